#!/usr/bin/env bash
# bf16 model FLOP utilisation of a ~1.2B-parameter Llama 3 (preset "1b": 16 layers, d 2048,
# GQA 32:8, FFN 8192, tied 128k vocabulary) at sequence 8192 on one H200, training step
# measured by bench/llama_mfu.py against an 8192^3 bf16 matmul in the same process.
#
# Run it on a lent GPU machine through the device tool, from the repository root:
#     run(command="bash bench/device/llama_gpu.sh", timeout_s=540)
# It needs the machine's own python3 with CUDA torch (nothing is installed; the repo is put on
# PYTHONPATH) and writes $OUT/llama_gpu.txt (or ./out/llama_gpu.txt without $OUT).
# Expect: peak ~780 TFLOP/s; MFU eager ~0.35-0.45, compiled ~0.45-0.55 (target >= 0.40).
# Budget: about 1 min eager + 2-4 min for torch.compile; each part has its own timeout, so a
# slow compile cannot eat the eager figure.
set -euo pipefail

cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-$PWD/out}"
mkdir -p "$out"
report="$out/llama_gpu.txt"
: >"$report"

run() {  # run <timeout seconds> <label> <llama_mfu args...>
    local limit=$1 label=$2
    shift 2
    echo "== $label" | tee -a "$report"
    if ! timeout "$limit" python3 bench/llama_mfu.py --device cuda --dtype bf16 --preset 1b \
        --batch 2 --peak-n 8192 "$@" 2>&1 | tee -a "$report"; then
        echo "!! $label failed or timed out after ${limit}s" | tee -a "$report"
    fi
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} 2>&1 | tee -a "$report"

run 150 "eager, batch 2 x 8192 tokens" --steps 3 --rounds 2 --warmup 2
run 330 "torch.compile, batch 2 x 8192 tokens" --steps 3 --rounds 2 --warmup 3 --compile
echo "== done" | tee -a "$report"
