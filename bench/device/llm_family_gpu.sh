#!/usr/bin/env bash
# MFU on active parameters of a few-layer slice of each large LLM benchmark on one H200:
# llama31_405b (2 layers of d 16384, seq 8192), gpt_oss_20b (4 layers: 2 windowed + 2 full,
# 32 experts top 4, 2 x 8192 tokens), deepseekv3_671b (1 dense + 1 MoE layer: MLA, 256 experts
# top 8 through torch._grouped_mm, seq 4096); real widths and vocabularies, bf16 weights,
# forward + backward timed by bench/llm_family_mfu.py against a bf16 8192^3 matmul.
#
# Run it on a lent GPU machine through the device tool, from the repository root:
#     run(command="bash bench/device/llm_family_gpu.sh", timeout_s=540)
#     bash bench/device/llm_family_gpu.sh --dry-run     # anywhere: shapes, FLOPs, memory
# It needs the machine's python3 with CUDA torch (nothing is installed; the repo is put on
# PYTHONPATH) and writes $OUT/llm_family_gpu.txt (or ./out/llm_family_gpu.txt without $OUT).
# Expect (not yet measured: no GPU was lent to this task): peak ~780 TFLOP/s; dense 405B slice
# ~0.4-0.5, the MoE slices lower (routing, the grouped GEMMs of small per-expert batches).
# Budget: ~1-2 min per benchmark; each has its own timeout, so one failure keeps the others.
set -euo pipefail

cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
dry=()
if [[ "${1:-}" == "--dry-run" ]]; then
    dry=(--dry-run --device cpu)
fi
py="${PYTHON:-python3}"
out="${OUT:-$PWD/out}"
mkdir -p "$out"
report="$out/llm_family_gpu.txt"
: >"$report"

run() {  # run <timeout seconds> <benchmark...>
    local limit=$1
    shift
    echo "== $*" | tee -a "$report"
    if ! timeout "$limit" "$py" bench/llm_family_mfu.py --benchmark "$@" "${dry[@]}" 2>&1 \
        | tee -a "$report"; then
        echo "!! $* failed or timed out after ${limit}s" | tee -a "$report"
    fi
}

if [[ ${#dry[@]} -eq 0 ]]; then
    {
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
        "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
    } 2>&1 | tee -a "$report"
fi

if [[ ${#dry[@]} -gt 0 ]]; then  # one process for the three shapes
    run 300 llama31_405b gpt_oss_20b deepseekv3_671b
else
    run 160 llama31_405b
    run 160 gpt_oss_20b
    run 200 deepseekv3_671b
fi
echo "== done" | tee -a "$report"
