#!/usr/bin/env bash
# flux1 on one lent H200: bf16 model FLOP utilisation of the MMDiT training step (preset
# "h200": the Flux.1 blocks at full width, 8 double + 16 single = 5.0B parameters -- the 11.9B
# shape's fp32 AdamW state alone is 190 GB -- batch 8 at 256 px: 256 image + 256 T5 tokens,
# activation checkpointing), eager and compiled, and the encoded-format loader against the
# step (reference-size samples: 2 MB of T5 embeddings each), all by bench/flux1_throughput.py.
#
# Run it through the device tool, from the repository root:
#     run(command="bash bench/device/flux1_gpu.sh", timeout_s=580)
# It needs the machine's own python3 with CUDA torch; mlperf-logging and webdataset are not
# there: bring them as wheels in .whl/ (both pure Python; see bench/device/resnet_gpu.sh):
#     python3 -m pip download --no-deps --only-binary=:all: -d .whl mlperf-logging==4.1.68 \
#         webdataset==1.0.2 braceexpand
# and pass carry=[".whl"]. Writes $OUT/flux1_gpu.txt (./out/flux1_gpu.txt without $OUT).
# --dry-run: the same parts on the CPU with the tiny preset and one step each (a test runs
# it), so a typo cannot waste a GPU session.
# Expect on an H200 (peak ~780 TFLOP/s bf16 dense at 8192^3): eager MFU ~0.35-0.45,
# compiled ~0.45-0.55; loader / step >= 2 with 4 workers. Budget: ~2 min eager (model build,
# data generation included), 3-5 min compiled; each part has its own timeout.
set -euo pipefail

cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-$PWD/out}"
mkdir -p "$out"
report="$out/flux1_gpu.txt"
: >"$report"

python=python3
gpu=(--device cuda --dtype bf16 --preset h200 --peak-n 8192)
eager=(--steps 3 --rounds 2 --warmup 2)
compiled=(--steps 3 --rounds 2 --warmup 3 --compile)
# 256 training samples in 8 shards: 540 MB of reference-size encodings, enough for 20 batches
loader=(--batches 20 --set data.synthetic_train_samples=256 --set data.train_samples=256
    --set data.synthetic_samples_per_shard=32)
limits=(240 330)
if [[ "${1:-}" == "--dry-run" ]]; then
    python="${PYTHON:-python3}"
    gpu=(--device cpu --dtype fp32 --preset tiny --peak-n 128 --threads 1)
    eager=(--steps 1 --rounds 1 --warmup 1)
    compiled=(--steps 1 --rounds 1 --warmup 1)
    loader=(--batches 2)
    limits=(300 300)
    echo "dry run: CPU, tiny preset" | tee -a "$report"
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--dry-run]" >&2
    exit 2
fi

if compgen -G ".whl/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl 2>&1 | tee -a "$report"
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi

part() {  # part <timeout seconds> <label> <flux1_throughput args...>
    local limit=$1 label=$2
    shift 2
    echo "== $label" | tee -a "$report"
    if ! timeout "$limit" "$python" bench/flux1_throughput.py "${gpu[@]}" "$@" 2>&1 \
        | tee -a "$report"; then
        echo "!! $label failed or timed out after ${limit}s" | tee -a "$report"
    fi
}

{
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    fi
    "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} 2>&1 | tee -a "$report"

part "${limits[0]}" "eager step + loader" --part all "${eager[@]}" "${loader[@]}"
part "${limits[1]}" "torch.compile step" --part step "${compiled[@]}"
echo "== done" | tee -a "$report"
