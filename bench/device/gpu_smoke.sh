#!/usr/bin/env bash
# The one-GPU smoke test: every GPU path of the product once, one RESULT line per check, in
# under ten minutes on a bare machine that has only the repository, a CUDA torch and small
# wheels (issue 17).
#
#   bash bench/device/gpu_smoke.sh              # on the GPU machine; $OUT/gpu_smoke.log
#   bash bench/device/gpu_smoke.sh --dry-run    # anywhere: print and validate every command
#
# Through the device tool, from the repository root:
#     run(command="bash bench/device/gpu_smoke.sh", carry=[".whl"], timeout_s=600)
#
# Checks (each a Python entry point with its own time limit, all within SMOKE_BUDGET seconds):
#   env            GPU, driver, torch/CUDA/NCCL versions; DALI, mlperf-logging, apex present?
#   resnet         the real Trainer on ResNet-50 (bf16) over synthetic JPEGs with DALI when it
#                  is installed, else the torch DataLoader: images/s and its ratio to the bare
#                  bf16 step measured in the same process (items 6-7: DALI's NHWC fp16 output)
#   llama-eager    the Llama "1b" step (16 x 2048, 128k vocab, seq 8192): MFU against the
#                  measured 8192^3 matmul and the datasheet peak, tokens/s vs the published 8B
#                  figure (item 9)
#   trainer-8b     the real Trainer path of the 8b preset at 2 and 4 layers of the 8B width:
#                  FSDP2 on a one-rank group, activation checkpointing, compile, bf16, warm-up
#                  restore: peak memory, optimizer and parameter types, FSDP2 dtypes, the
#                  logged lowest_numerical_precision_in_comm (items 1, 3, 4), then the 8B
#                  preset's memory per GPU on 8 x H200, fitted from the two depths
#   llama-compile  the 1b step again, compiled per block + loss as the Trainer does (item 4)
#
# What the machine needs: python3 with a CUDA torch >= 2.6 (the product's floor). Nothing is
# installed into it: the repository goes on PYTHONPATH, and wheels carried in .whl/ (the
# Trainer's logger needs mlperf-logging, pure Python) are unpacked into /tmp/site:
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#         --implementation cp --platform manylinux2014_x86_64 -d .whl mlperf-logging==4.1.68
# DALI is optional: its wheel (~600 MB) is larger than a device call carries, so on a bare
# machine the resnet check runs the DataLoader. With a network, `pip install -e '.[dali]'`
# beside the machine's torch works too (setup.py's torch range keeps the installed CUDA build).
# Expect on one H200: resnet bf16 step ~2500-3500 img/s; llama 1b MFU ~0.35-0.45 eager and
# ~0.45-0.55 compiled of the measured matmul (x ~0.8 of the datasheet); 8B ~95-100 GB per GPU.
set -euo pipefail

cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
BUDGET="${SMOKE_BUDGET:-570}"
dry=0
case "${1:-}" in
    --dry-run) dry=1 ;;
    "") ;;
    *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-$PWD/out}"
log="$out/gpu_smoke.log"
start=$SECONDS
commands=$(mktemp)
trap 'rm -f "$commands"' EXIT

if ((!dry)); then
    mkdir -p "$out"
    : >"$log"
    if compgen -G ".whl/*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl >>"$log" 2>&1
        export PYTHONPATH="$PYTHONPATH:/tmp/site"
    fi
fi

check() {  # check <time limit s> <name> <python script> [args...]
    local limit=$1 name=$2
    shift 2
    local cmd=("$PY" "$@")
    if ((dry)); then  # print it; validated below, all in one process
        echo "$name: timeout $limit ${cmd[*]}"
        printf '%q ' "$@" >>"$commands"
        echo >>"$commands"
        return 0
    fi
    local left=$((BUDGET - (SECONDS - start)))
    ((limit > left)) && limit=$left
    if ((limit < 10)); then
        echo "SKIP $name: the ${BUDGET}s budget is spent" | tee -a "$log"
        return 0
    fi
    echo "== $name (limit ${limit}s): ${cmd[*]}" >>"$log"
    local t0=$SECONDS rc=0
    timeout "$limit" "${cmd[@]}" >"$out/$name.txt" 2>&1 || rc=$?
    cat "$out/$name.txt" >>"$log"
    grep '^RESULT' "$out/$name.txt" | sed "s/\$/ [$((SECONDS - t0)) s]/" || true
    rm -f "$out/$name.txt"
    if ((rc == 124)); then
        echo "FAIL $name: timed out after ${limit}s (see $log)"
        failed=$((failed + 1))
    elif ((rc != 0)); then
        echo "FAIL $name: exit $rc (see $log)"
        failed=$((failed + 1))
    fi
    return 0
}

failed=0
check 60 env bench/gpu_env.py
check 150 resnet bench/resnet_gpu_throughput.py --part train --loader auto --batch 256 \
    --images 2048 --epochs 2 --steps 10 --rounds 2 --workers 12
check 90 llama-eager bench/llama_mfu.py --device cuda --dtype bf16 --preset 1b --batch 2 \
    --peak-n 8192 --steps 3 --rounds 2 --warmup 2
# Before llama-compile: items 1, 3 and 4 are seen here; the last check gets what is left.
check 240 trainer-8b bench/llama_trainer_gpu.py --layers 2,4 --steps 3
check 210 llama-compile bench/llama_mfu.py --device cuda --dtype bf16 --preset 1b --batch 2 \
    --peak-n 8192 --steps 3 --rounds 2 --warmup 3 --compile
if ((dry)); then
    "$PY" bench/device/validate_commands.py <"$commands"
    echo "dry run: every command parses"
else
    echo "done in $((SECONDS - start)) s, $failed check(s) failed; full output in $log"
fi
((failed == 0))
