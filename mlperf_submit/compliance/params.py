"""``package_checker_params`` bypass files, read as package_checker reads them.

package_checker (docs/official-tools.md §2.3) reads ``results/<system>/package_checker_params``
(whole system) and ``results/<system>/<benchmark>/package_checker_params`` (one benchmark) with
``readlines()`` and compares each line, *trailing newline included*, to ``rcp-bypass`` /
``seed-checker-bypass``. So only a last line without a newline is ever recognised:
``rcp-bypass\\n`` does nothing, and one file can enable at most one bypass. We reproduce that
verdict (``Bypass.rcp`` / ``.seed``) and warn about every line the official tool ignores, with
the fix. A root-level ``<org>/package_checker_params`` is never read by package_checker (only
by submission scripts and the UI): a warning says so.

    from mlperf_submit.compliance.params import read_params
    b = read_params("org/results/sys1/llama31_8b/package_checker_params")
    b.rcp, b.seed, [f.message for f in b.findings]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mlperf_submit.compliance.findings import Finding
from mlperf_submit.compliance.parser import regular_file
from mlperf_submit.errors import InputError

PARAMS_FILE = "package_checker_params"
RCP_BYPASS = "rcp-bypass"
SEED_BYPASS = "seed-checker-bypass"
KNOWN = (RCP_BYPASS, SEED_BYPASS)


@dataclass
class Bypass:
    """Bypass flags from one params file (or the union of several)."""

    rcp: bool = False
    seed: bool = False
    paths: list[str] = field(default_factory=list)  # files that exist and were read
    findings: list[Finding] = field(default_factory=list)

    def __or__(self, other: Bypass) -> Bypass:
        return Bypass(
            self.rcp or other.rcp,
            self.seed or other.seed,
            self.paths + other.paths,
            self.findings + other.findings,
        )


def read_params(path: str, *, level: str = "benchmark") -> Bypass:
    """Flags of one params file as the official tool sees them; no file = no flags."""
    out = Bypass()
    if not os.path.exists(path):
        return out
    out.paths.append(path)
    if level == "root":
        out.findings.append(
            Finding(
                "warning",
                "trap",
                f"{path}: package_checker never reads a package_checker_params at the "
                "submission root (only the submission scripts/UI turn it into flags)",
                hint="put it in results/<system>/ or results/<system>/<benchmark>/, or pass "
                "--rcp-bypass / --seed-checker-bypass to the checker",
            )
        )
        return out
    try:
        regular_file(path, "package_checker_params file")  # a named pipe would block the read
        # as the official code: text mode, default (UTF-8) encoding, universal newlines
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except (OSError, UnicodeDecodeError, InputError) as err:
        out.findings.append(
            Finding(
                "error",
                "crash",
                f"{path}: cannot be read as text ({err}); the official package_checker crashes",
                hint=f"write one of {', '.join(KNOWN)} as plain text",
            )
        )
        return out
    for lineno, line in enumerate(lines, 1):
        if line == RCP_BYPASS:
            out.rcp = True
        elif line == SEED_BYPASS:
            out.seed = True
        elif line.strip() in KNOWN:
            word = line.strip()
            why = "ends with a newline" if line.endswith("\n") else "has extra blanks"
            out.findings.append(
                Finding(
                    "warning",
                    "trap",
                    f"{path}:{lineno}: {word!r} is ignored by package_checker because the line "
                    f"{why} (it compares whole lines, newline included)",
                    file_lineno=lineno,
                    hint=(
                        f"make {word!r} the last line with no newline after it "
                        f"(printf '{word}' > {PARAMS_FILE}); one file can carry only one "
                        "bypass: put the other one in the system-level file"
                    ),
                )
            )
        elif line.strip():
            out.findings.append(
                Finding(
                    "warning",
                    "params",
                    f"{path}:{lineno}: unknown line {line.strip()!r} (package_checker knows "
                    f"only {' and '.join(KNOWN)})",
                    file_lineno=lineno,
                )
            )
    return out


def system_params(system_dir: str) -> Bypass:
    return read_params(os.path.join(system_dir, PARAMS_FILE), level="system")


def benchmark_params(benchmark_dir: str) -> Bypass:
    return read_params(os.path.join(benchmark_dir, PARAMS_FILE), level="benchmark")
