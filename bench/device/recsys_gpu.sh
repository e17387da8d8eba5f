#!/usr/bin/env bash
# dlrm_dcnv2 and dlrmv4 on one H200 through TorchRec + FBGEMM (CUDA): training samples/s of the
# "small" presets (FBGEMM-fused tables on the GPU: FusedEmbeddingBagCollection for dlrm_dcnv2,
# FusedEmbeddingCollection for dlrmv4, which TorchRec has on CUDA only), embedding lookups/s of
# the fused tables against plain nn.EmbeddingBag + Adagrad in the same process, and each tiny
# preset end to end on the GPU -- all by bench/recsys_throughput.py, one process per part.
#
#     bash bench/device/recsys_gpu.sh [--dry-run]
# --dry-run prints the environment checks and the parts it would run, and runs nothing.
#
# Needs python3 with CUDA torch, fbgemm-gpu built for that torch and CUDA, torchrec,
# mlperf-logging and pyarrow (an NGC PyTorch container with the matching fbgemm-gpu/torchrec
# pair, as platform.md says). The device tool's H200 image has torch 2.11.0+cu130 but neither
# fbgemm-gpu nor torchrec, and the CUDA fbgemm-gpu wheel is far larger than the 64 MiB the tool
# carries: there the script reports what is missing and exits 3 before any part.
# Writes $OUT/recsys_gpu.txt (or ./out/recsys_gpu.txt).
# Expect on an H200: lookups ratio well above the CPU's (FBGEMM's fused CUDA kernels against
# one cuSPARSE-backed EmbeddingBag per table); both tiny presets "success".
# Budget: ~1 min per part (the small presets build their tables on the GPU).
set -euo pipefail

dry_run=0
[[ "${1:-}" == "--dry-run" ]] && dry_run=1

cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-$PWD/out}"
report="$out/recsys_gpu.txt"
parts=(
    "240 samples --device cuda --steps 8"
    "180 lookups --device cuda --steps 20 --repeat 5 --lookup-batch 8192"
    "240 train --device cuda"
)

if ((dry_run)); then
    echo "recsys_gpu.sh --dry-run: would check python3 imports torch (CUDA), fbgemm_gpu, torchrec,"
    echo "  mlperf_logging, pyarrow, then run, writing $report:"
    for p in "${parts[@]}"; do
        read -r limit name args <<<"$p"
        echo "  timeout $limit python3 bench/recsys_throughput.py --part $name $args"
    done
    exit 0
fi

mkdir -p "$out"
: >"$report"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} 2>&1 | tee -a "$report"
if ! python3 -c 'import torch, fbgemm_gpu, torchrec, mlperf_logging, pyarrow
assert torch.cuda.is_available(), "no CUDA device"
print("fbgemm_gpu", fbgemm_gpu.__version__, "torchrec", getattr(torchrec, "__version__", "?"))' \
    2>&1 | tee -a "$report"; then
    echo "!! missing: CUDA fbgemm-gpu + torchrec (and mlperf-logging, pyarrow) for this torch" \
        | tee -a "$report"
    exit 3
fi
for p in "${parts[@]}"; do
    read -r limit name args <<<"$p"
    echo "== $name" | tee -a "$report"
    # shellcheck disable=SC2086 - the part's arguments split on purpose
    if ! timeout "$limit" python3 bench/recsys_throughput.py --part "$name" $args 2>&1 \
        | tee -a "$report"; then
        echo "!! $name failed or timed out after ${limit}s" | tee -a "$report"
    fi
done
echo "== done" | tee -a "$report"
