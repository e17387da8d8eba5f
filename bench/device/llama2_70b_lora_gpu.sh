#!/usr/bin/env bash
# bf16 LoRA fine-tuning throughput and MFU of the Llama 2 70B layer shape on one H200: preset
# "gpu_8layer" (8 of the 80 layers: d 8192, GQA 64:8 fused QKV, FFN 28672, vocabulary 32000;
# 6.9B frozen bf16 base parameters, 4.5M fp32 adapter parameters, r 16 on wqkv and wo), one
# 8192-token sequence per step, activation checkpointing, measured by
# bench/llama2_70b_lora_mfu.py against an 8192^3 bf16 matmul in the same process.
#
#     bash bench/device/llama2_70b_lora_gpu.sh --dry-run    # print the commands, run nothing
#     run(command="bash bench/device/llama2_70b_lora_gpu.sh", timeout_s=540)   # device tool
#
# Needs the machine's own python3 with CUDA torch and peft (nothing is installed here; the
# repository is put on PYTHONPATH): a missing one is named and the script exits 2. Writes
# $OUT/llama2_70b_lora_gpu.txt (./out/ without $OUT).
# Expect (to be measured): peak ~780 TFLOP/s; about 30 GB of GPU memory; MFU is lower than
# pretraining's at the same shape (the frozen base has no weight-gradient GEMMs, and each
# checkpointed block's forward is recomputed but not counted).
# Budget: ~2 min eager, 2-4 min more for torch.compile; each part has its own timeout.
set -euo pipefail

dry_run=0
case "${1:-}" in
    --dry-run) dry_run=1 ;;
    "") ;;
    *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-$PWD/out}"
report="$out/llama2_70b_lora_gpu.txt"
base=(python3 bench/llama2_70b_lora_mfu.py --device cuda --dtype bf16 --preset gpu_8layer
      --batch 1 --peak-n 8192)
parts=(
    "150|eager, 1 x 8192 tokens|--steps 3 --rounds 2 --warmup 2"
    "330|torch.compile, 1 x 8192 tokens|--steps 3 --rounds 2 --warmup 3 --compile"
)

if ((dry_run)); then
    echo "would check: python3 -c 'import torch, peft; assert torch.cuda.is_available()'"
    for part in "${parts[@]}"; do
        IFS='|' read -r limit label extra <<<"$part"
        read -r -a more <<<"$extra"
        echo "would run ($label, timeout ${limit}s): ${base[*]} ${more[*]}"
    done
    echo "report: $report"
    exit 0
fi

if ! python3 -c 'import torch, peft; assert torch.cuda.is_available(), "no CUDA device"' 2>&1; then
    echo "llama2_70b_lora_gpu: python3 needs CUDA torch and peft (pip install peft)" >&2
    exit 2
fi
mkdir -p "$out"
: >"$report"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    python3 -c 'import torch, peft; print("torch", torch.__version__, "cuda", torch.version.cuda, "peft", peft.__version__)'
} 2>&1 | tee -a "$report"

for part in "${parts[@]}"; do
    IFS='|' read -r limit label extra <<<"$part"
    read -r -a more <<<"$extra"
    echo "== $label" | tee -a "$report"
    if ! timeout "$limit" "${base[@]}" "${more[@]}" 2>&1 | tee -a "$report"; then
        echo "!! $label failed or timed out after ${limit}s" | tee -a "$report"
    fi
done
echo "== done" | tee -a "$report"
