"""The official seed checker over already-checked files (docs/official-tools.md §2.4).

``package_checker``'s ``SeedChecker`` runs for closed-division systems only, once per benchmark
directory, over the sorted result files:

1. a file with parse errors -> ``Error found when querying seeds from <file>: ...``;
2. records are ``(metadata.file, metadata.lineno, int(value))`` of every ``seed`` line; a value
   ``int()`` rejects (or missing ``file``/``lineno``) -> the same "Error found when querying" error;
3. no seed line -> ``Result file <file> logs no seed.``;
4. more than one seed -> only a Python warning (a warning here);
5. the same ``(file, lineno, seed)`` in two files -> ``Result file A logs seed S on F:L. However,
   result file B already logs the same seed on the same line.``

The same seed value from different source lines is allowed, as officially. For open division
the caller asks for ``informational=True``: the findings become warnings (the official tool
does not run the check there).

    findings = check_seeds(file_reports)     # FileReport from filecheck.check_file
"""

from __future__ import annotations

from collections.abc import Sequence

from mlperf_submit.compliance.filecheck import MISSING
from mlperf_submit.compliance.findings import Finding

HINT_UNIQUE = (
    "draw a fresh seed for every run (e.g. from OS entropy) and log it with mllog "
    "(mlperf-submit campaign does this)"
)


def _records(report) -> tuple[list[tuple], list[int], str | None]:
    """``(records, file_lines, error)`` the way ``_get_seed_records`` builds them."""
    records, lines = [], []
    for item in report.facts.seeds:
        src_file, src_line, value = item[0], item[1], item[2]
        file_lineno = item[3] if len(item) > 3 else None
        where = f"{report.path}:{file_lineno}" if file_lineno else report.path
        if src_file is MISSING or src_line is MISSING:
            # (explicit nulls are a record (None, None, seed) for the official checker: kept)
            return (
                [],
                [],
                (
                    f"{where}: seed line without metadata file/lineno (the official checker raises "
                    "KeyError on it)"
                ),
            )
        try:
            seed = int(value)
        except (TypeError, ValueError, OverflowError) as err:
            return [], [], f"{where}: seed value {value!r} is not an integer ({err})"
        records.append((src_file, src_line, seed))
        lines.append(file_lineno)
    return records, lines, None


def check_seeds(reports: Sequence, *, informational: bool = False) -> list[Finding]:
    """Seed findings for the files of one benchmark directory (pass them sorted by path)."""
    severity = "warning" if informational else "error"
    out: list[Finding] = []
    seen: dict[tuple, str] = {}
    for rep in reports:
        if rep.n_parse_errors:
            out.append(
                Finding(
                    severity,
                    "seed",
                    f"Error found when querying seeds from {rep.path}: Found parsing errors "
                    f"({rep.n_parse_errors} line(s) do not parse)",
                    hint="fix the lines that do not parse (see the file's errors)",
                )
            )
            continue
        records, lines, error = _records(rep)
        if error:
            out.append(
                Finding(
                    severity,
                    "seed",
                    f"Error found when querying seeds from {rep.path}: {error}",
                    hint="log the seed with mllog: key 'seed', an integer value",
                )
            )
            continue
        if not records:
            out.append(
                Finding(
                    severity,
                    "seed",
                    f"Result file {rep.path} logs no seed.",
                    key="seed",
                    hint=(
                        "log the run's seed once with mllog (key 'seed'): the official seed "
                        "checker requires it in every closed result file for rulesets 1.0.0 "
                        "to 6.1.0 (the written rules made it mandatory from v4.1; "
                        "seed-checker-bypass exists for older logs)"
                    ),
                )
            )
        if len(records) > 1:
            out.append(
                Finding(
                    "warning",
                    "seed",
                    f"Result file {rep.path} logs more than one seeds {records}!",
                    key="seed",
                )
            )
        for (src_file, src_line, seed), file_lineno in zip(records, lines):
            first = seen.get((src_file, src_line, seed))
            if first is None:  # (a repeat inside one file is an error too, as officially)
                seen[(src_file, src_line, seed)] = rep.path
            else:
                out.append(
                    Finding(
                        severity,
                        "seed",
                        f"Result file {rep.path} logs seed {seed} on {src_file}:{src_line}. "
                        f"However, result file {first} already logs the same seed on the same "
                        "line.",
                        key="seed",
                        file_lineno=file_lineno,
                        hint=HINT_UNIQUE,
                    )
                )
    if informational:
        for f in out:
            f.message += " (information: the official seed check runs for closed division only)"
    return out
