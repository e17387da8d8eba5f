"""--detect reads this machine: compare with what the OS reports through other routes."""

import json
import os
import platform

import pytest

from mlperf_submit.submission.detect import (
    SYSTEM_KEYS,
    detect_accelerators,
    detect_cpu,
    detect_memory,
    detect_system,
    parse_nvidia_smi,
    unknown_keys,
)


@pytest.fixture(scope="module")
def detected():
    return detect_system("MyOrg", "open", "sys1")


def test_all_33_keys_as_strings(detected):
    assert len(SYSTEM_KEYS) == 33 and len(set(SYSTEM_KEYS)) == 33
    assert list(detected) == list(SYSTEM_KEYS)
    assert all(isinstance(v, str) for v in detected.values())
    json.dumps(detected)


def test_identity_fields_come_from_the_arguments(detected):
    assert (detected["submitter"], detected["division"], detected["system_name"]) == (
        "MyOrg",
        "open",
        "sys1",
    )
    assert detected["status"] == "Research, Development, or Internal (RDI)"


def test_counts_are_integer_strings_matching_the_os(detected):
    for key in ("number_of_nodes", "host_processors_per_node", "accelerators_per_node"):
        assert detected[key].isdigit(), key
    assert int(detected["host_processor_vcpu_count"]) == os.cpu_count()
    cores = int(detected["host_processor_core_count"]) * int(detected["host_processors_per_node"])
    assert 1 <= cores <= os.cpu_count()


def test_cpu_model_and_memory_match_proc():
    with open("/proc/cpuinfo") as f:
        models = {line.split(":", 1)[1].strip() for line in f if line.startswith("model name")}
    assert detect_cpu()["host_processor_model_name"] in models
    with open("/proc/meminfo") as f:
        kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    assert detect_memory() == f"{kib / 1024**2:.1f} GiB"


def test_software_stack_names_the_framework_and_os(detected):
    import torch

    assert detected["framework"] == f"PyTorch {torch.__version__}"
    assert "mlperf-logging 4.1.68" in detected["other_software_stack"]
    assert platform.release() in detected["operating_system"]


def test_cpu_only_machine_says_so(detected):
    import torch

    if torch.cuda.is_available():
        pytest.skip("GPU path: this machine has CUDA devices (checked by test_gpu_detected)")
    assert detected["accelerators_per_node"] == "0"
    assert detected["accelerator_model_name"] == "N/A (CPU only)"
    # Only genuinely unknown fields are left for the user to fill in.
    assert set(unknown_keys(detected)) <= {
        "host_processor_interconnect",
        "host_memory_configuration",
        "cooling",
        "sw_notes",
        "host_networking",
        "host_storage_type",
        "host_processor_caches",
        "host_processor_frequency",
    }


def test_gpu_detected():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("GPU path: no CUDA device on this machine")
    acc = detect_accelerators()
    assert acc.count == torch.cuda.device_count()
    assert acc.model


def test_nvidia_smi_csv_is_parsed():
    # Output format of `nvidia-smi --query-gpu=... --format=csv,noheader` (one line per GPU).
    text = (
        "NVIDIA H200, 143771 MiB, 1980 MHz, 5, 16, 570.124.06\n"
        "NVIDIA H200, 143771 MiB, 1980 MHz, 5, 16, 570.124.06\n"
    )
    acc = parse_nvidia_smi(text)
    assert (acc.count, acc.model, acc.memory, acc.frequency) == (
        2,
        "NVIDIA H200",
        "143771 MiB",
        "1980 MHz",
    )
    assert acc.host_interconnect == "PCIe Gen5 x16"
    assert acc.driver == "570.124.06"
    assert parse_nvidia_smi("").count == 0
    assert parse_nvidia_smi("No devices were found\n").count == 0
