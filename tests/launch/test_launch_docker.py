"""docker/: no container engine runs here, so check the Dockerfile statically.

What must hold: one pinned NGC PyTorch base (``nvcr.io/nvidia/pytorch:<yy.mm>-py3``), the
package installed from the copied tree (not fetched), the image's torch never replaced, the
same mlperf-logging pin as setup.py, nothing downloaded at run time, and a README that says how
to build, import with enroot, and run with pyxis and ``docker run --gpus all``.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text()
    joined = re.sub(r"\\\n", " ", "\n".join(
        ln for ln in text.splitlines() if not ln.lstrip().startswith("#")
    ))  # fmt: skip
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_base_image_is_a_pinned_ngc_pytorch_tag():
    froms = [arg for ins, arg in instructions() if ins == "FROM"]
    assert len(froms) == 1, froms
    m = re.fullmatch(r"nvcr\.io/nvidia/pytorch:(\d{2})\.(\d{2})-py3", froms[0])
    assert m, f"FROM {froms[0]} is not a pinned nvcr.io/nvidia/pytorch:<yy.mm>-py3 tag"
    assert 1 <= int(m.group(2)) <= 12
    assert not any(ins == "ARG" for ins, _ in instructions()), "no build-arg may unpin the base"


def test_package_installs_from_the_copied_tree():
    ins = instructions()
    copies = [arg for i, arg in ins if i == "COPY"]
    assert any(arg.split()[0] == "mlperf_submit" for arg in copies)
    assert any("setup.py" in arg.split() for arg in copies)
    runs = " ".join(arg for i, arg in ins if i == "RUN")
    assert re.search(r"pip install --no-deps --no-build-isolation \.(\s|$)", runs)
    for fetch in ("git clone", "curl ", "wget ", "git+http", "pip download"):
        assert fetch not in runs, f"{fetch!r}: the package must come from the copied tree"
    # the copy happens before the install that uses it
    order = [i for i, arg in ins if i == "COPY" and arg.startswith("mlperf_submit") or (
        i == "RUN" and "--no-deps" in arg)]  # fmt: skip
    assert order == ["COPY", "RUN"]


def test_image_torch_is_never_replaced():
    runs = " ".join(arg for i, arg in instructions() if i == "RUN")
    assert "--constraint /tmp/keep-torch.txt" in runs
    assert not re.search(r"pip install[^&]*\btorch\b(?!\.)", runs.replace("keep-torch", "")), (
        "pip must not install torch over NVIDIA's build"
    )


def test_mlperf_logging_pin_matches_setup_py():
    pin = re.search(r'"mlperf-logging==([\d.]+)"', (REPO / "setup.py").read_text()).group(1)
    assert f'"mlperf-logging=={pin}"' in DOCKERFILE.read_text()


def test_nothing_is_fetched_at_run_time():
    for ins, arg in instructions():
        if ins in ("CMD", "ENTRYPOINT"):
            assert "pip" not in arg and "curl" not in arg and "wget" not in arg
    assert all(ins != "ADD" for ins, _ in instructions()), "ADD can fetch URLs; use COPY"


def test_dockerignore_keeps_the_context_small():
    ignore = (REPO / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("*")] == "*" and "!mlperf_submit/" in ignore
    assert not any(p.startswith("!.venv") for p in ignore)


def test_readme_covers_build_enroot_pyxis_and_docker_run():
    text = (REPO / "docker" / "README.md").read_text()
    for needle in (
        "docker build -f docker/Dockerfile",
        "enroot import",
        "--container-image",
        "docker run --gpus all",
        "--launcher slurm",
    ):
        assert needle in text, needle
    base = next(arg for ins, arg in instructions() if ins == "FROM")
    assert base in text, "the README names the pinned base image"
