# mlperf-submit — the two commands a newcomer needs are `make submit` and `make test`.
# Each does its own set-up: system packages (Slurm, munge) when run as root, a venv with
# torch==2.13.0 installed first (a CPU build here; a bare `torch` would pull a multi-GB CUDA build).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_VERSION ?= 2.13.0
EXTRAS ?= dev,train,dali,mpi,report,llm,diffusion,recsys-cpu
TORCHREC_VERSION ?= 1.8.0
STAMP := $(VENV)/.installed-$(TORCH_VERSION)

# make submit variables (see README)
BENCHMARKS ?=
ROUND ?=
RUNS ?=
ORG ?= DryRunOrg
OUT ?= out/submit

# make slurm-up / slurm-down: the local two-node Slurm cluster (the test fixture's code)
SLURM_DIR ?= /tmp/mlperf-submit-slurm

.PHONY: help venv system-deps test lint format submit bench test-horovod slurm-up slurm-down clean

help:
	@echo "make submit   synthetic campaign -> submission tree(s) -> verify -> report (OUT=$(OUT))"
	@echo "make test     the test suite (installs what it needs)"
	@echo "make lint     ruff check + format check"
	@echo "make bench    performance benchmarks (ratios against the official tools / baselines)"
	@echo "make test-horovod  build Horovod 0.28.1 with the C++17 fix and run a 2-rank job"
	@echo "make slurm-up / slurm-down  a two-node Slurm cluster on this machine (root; SLURM_DIR=$(SLURM_DIR))"

$(STAMP): setup.py Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e '.[$(EXTRAS)]'
	# torchrec requires the CUDA fbgemm-gpu by name: install it alone, over fbgemm-gpu-cpu.
	$(PIP) install -q --no-deps torchrec==$(TORCHREC_VERSION)
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	scripts/install_system_deps.sh

# The Horovod test needs an 8-minute patched build: `make test-horovod` runs it.
test: system-deps venv
	$(PY) -m pytest -q -m "not horovod" tests

lint: venv
	$(VENV)/bin/ruff check mlperf_submit tests bench
	$(VENV)/bin/ruff format --check mlperf_submit tests bench

format: venv
	$(VENV)/bin/ruff check --fix mlperf_submit tests bench
	$(VENV)/bin/ruff format mlperf_submit tests bench

submit: venv
	BENCHMARKS='$(BENCHMARKS)' ROUND='$(ROUND)' RUNS='$(RUNS)' ORG='$(ORG)' OUT='$(OUT)' \
	  PY='$(PY)' scripts/submit.sh

bench: venv
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

test-horovod: system-deps venv
	scripts/install_horovod.sh $(PY)
	$(PY) -m pytest -q -m horovod tests/test_horovod.py

# A two-node Slurm cluster on this machine (munged + slurmctld + slurmd n1, n2; root), the one
# the tests use: try `campaign --launcher slurm` here first. It prints the SLURM_CONF to export.
slurm-up: system-deps venv
	$(PY) -m mlperf_submit.launch.campaign.local_slurm up --dir '$(SLURM_DIR)'

slurm-down:
	$(PY) -m mlperf_submit.launch.campaign.local_slurm down --dir '$(SLURM_DIR)'

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
