#!/usr/bin/env bash
# ResNet-50 v1.5 on one lent H200: bf16 vs fp32 train-step images/s, DALI mixed (nvJPEG)
# decoding images/s, and the real Trainer with DALI + bf16 end to end, all measured by
# bench/resnet_gpu_throughput.py in one process per part.
#
# Run it through the device tool, from the repository root:
#     run(command="bash bench/device/resnet_gpu.sh", carry=[".whl"], timeout_s=540)
# The machine's python3 has CUDA torch but neither nvidia-dali nor mlperf-logging. Bring them
# as wheels in .whl/ (see the device tool's README; mlperf-logging is pure Python):
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#         --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
#         -d .whl mlperf-logging==4.1.68 nvidia-dali-cuda130==2.4.0
# The DALI wheel is larger than the 64 MiB the tool carries: without it the dali part prints
# "skipped" and the train part runs the torch DataLoader. Writes $OUT/resnet_gpu.txt.
# bench/device/gpu_smoke.sh runs the train part among all the GPU checks in < 10 minutes.
# Expect on an H200: bf16 step ~2500-3500 img/s at batch 256 (~2-3x fp32); DALI mixed decode
# of 256 px JPEGs well above the step rate; Trainer >= 0.9 of the bare step.
# Budget: ~1 min step part, ~1-2 min per DALI part (JPEG generation on the CPU included).
set -euo pipefail

cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-$PWD/out}"
mkdir -p "$out"
report="$out/resnet_gpu.txt"
: >"$report"

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl 2>&1 | tee -a "$report"
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi

part() {  # part <timeout seconds> <name> [args...]
    local limit=$1 name=$2
    shift 2
    echo "== $name" | tee -a "$report"
    if ! timeout "$limit" python3 bench/resnet_gpu_throughput.py --part "$name" "$@" 2>&1 \
        | tee -a "$report"; then
        echo "!! $name failed or timed out after ${limit}s" | tee -a "$report"
    fi
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} 2>&1 | tee -a "$report"

part 120 step --batch 256
part 180 dali --batch 256 --images 4096
part 200 train --batch 256 --images 4096
echo "== done" | tee -a "$report"
