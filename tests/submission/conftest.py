"""A real tiny campaign (resnet, the 5 official runs, synthetic data), made once per session."""

import subprocess
import sys

import pytest

ORG = "TestOrg"
SYSTEM = "test_cpu_node"


@pytest.fixture(scope="session")
def resnet_campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign")
    out = root / "resnet"
    proc = subprocess.run(
        [sys.executable, "-m", "mlperf_submit", "campaign", "resnet", "--out", str(out),
         "--runs", "5", "--preset", "tiny", "--synthetic", str(root / "data"),
         "--division", "open", "--no-cache-clear", "--", "--org", ORG,
         "--platform", f"1x{SYSTEM}"],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out
