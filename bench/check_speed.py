"""Speed of ``mlperf-submit check`` against the official tools, measured in the same call.

    .venv/bin/python bench/check_speed.py                 # sample of corpus logs + 3 org folders
    .venv/bin/python bench/check_speed.py --all           # every corpus log, every whole org
    .venv/bin/python bench/check_speed.py --files 40 --orgs v4.1/closed/Krai
    .venv/bin/python bench/check_speed.py --files 0 --orgs   # every log, no org folder

1. Per file: the official compliance checker in-process (``mlp_compliance.make_checker`` +
   ``main``, unmodified: it re-reads its YAML rules for every file, as it always does) and our
   ``filecheck.check_file`` on the same logs. Prints lines/s for both and the ratio
   (target: >= 20x).
2. Per org folder (verify + score): ``package_checker`` + ``result_summarizer`` in-process,
   unmodified, on a temp copy (they write ``scaling.json``; copying is not timed) against our
   ``orgfolder.check_org`` (compliance, seeds, RCP, score in one go). Prints seconds and the
   ratio (target: >= 10x).
3. Per org folder as a user runs it: ``mlperf-submit verify ORG`` in a fresh process (imports
   and all, what a reviewer waits for) against ``python -m mlperf_logging.package_checker`` then
   ``python -m mlperf_logging.result_summarizer`` in fresh processes, on the real published org
   folders of the corpus; ``--orgs`` also takes the path of any org folder (a checkout of a
   published submitter with its code, e.g. ``training_results_v5.0/<Org>``).

Both sides run in this process, one after the other, best of ``--repeat``; the machine's load
affects both alike. Verdicts are compared too, so a fast wrong answer does not count.
Expect on a 2-core VM: official ~4-10k lines/s, ours 20-40x that.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from contextlib import redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_ORGS = ("v4.1/closed/Krai", "v5.1/closed/AMD", "v4.0/closed/GigaComputing")


def corpus() -> Path:
    return Path(os.environ.get("MLPERF_SUBMIT_CORPUS", REPO.parent / "shared" / "corpus"))


def best_of(repeat: int, fn):
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def count_lines(paths) -> int:
    n = 0
    for p in paths:
        with open(p, "rb") as f:
            n += sum(1 for _ in f)
    return n


# ---------------------------------------------------------------- per file


def official_file_verdicts(rows):
    from mlperf_logging.compliance_checker import mlp_compliance

    out = []
    for path, ruleset in rows:
        checker = mlp_compliance.make_checker("training", ruleset, True, False)
        try:
            valid, *_ = mlp_compliance.main(str(path), f"training_{ruleset}/common.yaml", checker)
            out.append("pass" if valid else "fail")
        except Exception:
            out.append("crash")
        mlp_compliance.enqueued_configs.clear()
    return out


def our_file_verdicts(rows):
    from mlperf_submit.compliance.filecheck import check_file

    out = []
    for path, ruleset in rows:
        rep = check_file(path, ruleset)
        out.append("crash" if rep.official_crash else ("pass" if rep.passed else "fail"))
    return out


def bench_files(n_files: int | None, repeat: int) -> float:
    with open(corpus() / "VERDICTS.tsv", newline="") as f:
        rows = [(corpus() / r["path"], r["ruleset"]) for r in csv.DictReader(f, delimiter="\t")]
    if n_files:
        step = max(1, len(rows) // n_files)
        rows = rows[::step][:n_files]
    lines = count_lines(p for p, _ in rows)
    # Our first pass also parses and compiles each ruleset's rule files (once per process; the
    # official tool re-reads them for every file, so it has no such one-time cost to separate).
    t_first, ours = best_of(1, lambda: our_file_verdicts(rows))
    t_ours, ours = best_of(max(repeat, 3), lambda: our_file_verdicts(rows))
    t_off, theirs = best_of(repeat, lambda: official_file_verdicts(rows))
    agree = sum(a == b for a, b in zip(ours, theirs))
    print(f"per file: {len(rows)} logs, {lines} lines; verdicts agree on {agree}/{len(rows)}")
    print(f"  official compliance_checker  {t_off:8.2f} s  {lines / t_off:12,.0f} lines/s")
    print(f"  mlperf-submit check_file     {t_ours:8.2f} s  {lines / t_ours:12,.0f} lines/s")
    print(
        f"  (our first pass, including compiling the rules of each ruleset once: {t_first:.2f} s, "
        f"{t_off / t_first:.1f}x)"
    )
    ratio = t_off / t_ours
    print(f"  ratio {ratio:.1f}x (target >= 20x)")
    return ratio


# ---------------------------------------------------------------- org folders


def official_org(org: Path, ruleset: str) -> tuple[float, str, int]:
    from mlperf_logging.package_checker import package_checker
    from mlperf_logging.result_summarizer import result_summarizer

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / org.name
        shutil.copytree(org, copy)
        records: list[str] = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())

        root = logging.getLogger()
        saved = root.handlers[:]
        root.handlers = [Keep()]
        root.setLevel(logging.INFO)
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            t0 = time.perf_counter()
            with redirect_stdout(io.StringIO()):
                package_checker.check_training_package(
                    str(copy), "training", ruleset, True, False, False, False, False, "pc.log"
                )
                strong, *_ = result_summarizer.summarize_results(str(copy), "training", ruleset)
            seconds = time.perf_counter() - t0
        finally:
            os.chdir(cwd)
            root.handlers = saved
    verdict = "pass" if any("FOUND NO ERRORS" in m for m in records) else "fail"
    return seconds, verdict, len(strong)


def our_org(org: Path, ruleset: str):
    from mlperf_submit.compliance.orgfolder import check_org
    from mlperf_submit.compliance.rcp import rcp_table

    rcp_table.cache_clear()  # the official recomputes RCP statistics per dir: we pay ours too

    t0 = time.perf_counter()
    rep = check_org(str(org), ruleset)
    return time.perf_counter() - t0, rep


def bench_orgs(orgs: list[str], repeat: int) -> float:
    total_off = total_ours = 0.0
    for rel in orgs:
        org = _org_path(rel)
        ruleset = _ruleset_of(rel, org)
        lines = count_lines(org.glob("results/*/*/result_*.txt"))
        t_ours, rep = min((our_org(org, ruleset) for _ in range(repeat)), key=lambda x: x[0])
        t_off, verdict, _ = min(
            (official_org(org, ruleset) for _ in range(repeat)), key=lambda x: x[0]
        )
        total_off += t_off
        total_ours += t_ours
        same = "same verdict" if rep.verdict.lower() == verdict else "VERDICTS DIFFER"
        print(
            f"  {rel:32s} {lines:7d} lines  official {t_off:7.2f} s  ours {t_ours:6.2f} s  "
            f"{t_off / t_ours:5.1f}x  ({same}: {verdict})"
        )
    ratio = total_off / total_ours
    print(
        f"  org folders: official {total_off:.2f} s, ours {total_ours:.2f} s, ratio {ratio:.1f}x "
        "(target >= 10x)"
    )
    return ratio


def _org_path(rel: str) -> Path:
    path = Path(rel)
    return path if path.is_absolute() or path.exists() else corpus() / rel


def _ruleset_of(rel: str, org: Path) -> str:
    """The round of a corpus org (``v5.1/...`` -> 5.1.0), else verify's default ruleset."""
    first = rel.split("/")[0]
    if first[:1] == "v" and first[1:].replace(".", "").isdigit():
        return first[1:] + ".0"
    from mlperf_submit.submission.verify import default_ruleset

    return default_ruleset(str(org))


def _timed_run(cmd: list[str], cwd: str) -> tuple[float, str]:
    import subprocess

    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, proc.stdout + proc.stderr


def official_org_cli(org: Path, ruleset: str) -> tuple[float, str]:
    """package_checker then result_summarizer, each a fresh process, on a temp copy."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / org.name
        shutil.copytree(org, copy, symlinks=True)
        mod = [sys.executable, "-m"]
        t1, out = _timed_run([*mod, "mlperf_logging.package_checker", str(copy), "training",
                              ruleset, "--log_output", "pc.log"], tmp)  # fmt: skip
        t2, _ = _timed_run([*mod, "mlperf_logging.result_summarizer", str(copy), "training",
                            ruleset], tmp)  # fmt: skip
    return t1 + t2, "pass" if "FOUND NO ERRORS" in out else "fail"


def our_org_cli(org: Path, ruleset: str) -> tuple[float, str]:
    """``mlperf-submit verify ORG`` in a fresh process (package_checker's verdict, tree rules,
    scores; no summary files written)."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds, out = _timed_run([sys.executable, "-m", "mlperf_submit", "verify", str(org),
                                   "--ruleset", ruleset, "--no-summary"], tmp)  # fmt: skip
    line = next((ln for ln in out.splitlines() if ln.startswith("package_checker checks")), "")
    return seconds, "pass" if line.endswith("PASS") else "fail"


def bench_orgs_cli(orgs: list[str], repeat: int) -> float:
    total_off = total_ours = 0.0
    for rel in orgs:
        org = _org_path(rel)
        ruleset = _ruleset_of(rel, org)
        files = sum(1 for p in org.rglob("*") if p.is_file())
        t_ours, ours = min((our_org_cli(org, ruleset) for _ in range(repeat)), key=lambda x: x[0])
        t_off, theirs = min(
            (official_org_cli(org, ruleset) for _ in range(repeat)), key=lambda x: x[0]
        )
        total_off += t_off
        total_ours += t_ours
        same = "same verdict" if ours == theirs else "VERDICTS DIFFER"
        print(
            f"  {rel:32s} {files:6d} files  official {t_off:7.2f} s  verify {t_ours:6.2f} s  "
            f"{t_off / t_ours:5.1f}x  ({same}: {theirs})"
        )
    ratio = total_off / total_ours
    print(f"  as run: official {total_off:.2f} s, verify {total_ours:.2f} s, ratio {ratio:.1f}x")
    return ratio


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=60, help="corpus logs to time (0 = all 672)")
    ap.add_argument(
        "--orgs",
        nargs="*",
        default=list(DEFAULT_ORGS),
        help="org folders: round/div/org in the corpus, or a path",
    )
    ap.add_argument("--all", action="store_true", help="every log and every whole org folder")
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs")
    args = ap.parse_args(argv)
    # one-time imports both sides need (the official modules import them at load time; ours
    # imports scipy.stats lazily, on the first RCP check): paid once per process, not timed
    t0 = time.perf_counter()
    import mlperf_logging.package_checker.package_checker  # noqa: F401
    import mlperf_logging.result_summarizer.result_summarizer  # noqa: F401
    import scipy.stats  # noqa: F401

    from mlperf_submit.compliance import filecheck, orgfolder  # noqa: F401

    print(f"(one-time imports, not timed: {time.perf_counter() - t0:.2f} s)")
    logging.disable(logging.WARNING)  # the official tools log a lot; we time, not print
    warnings.simplefilter("ignore")  # the official seed checker warns per multi-seed file
    if args.all:
        args.files = 0
        with open(corpus() / "MANIFEST.tsv", newline="") as f:
            args.orgs = sorted(
                {
                    f"{r['round']}/{r['division']}/{r['submitter']}"
                    for r in csv.DictReader(f, delimiter="\t")
                    if r["whole_submitter_folder"] == "yes"
                }
            )
    bench_files(args.files or None, args.repeat)
    logging.disable(logging.NOTSET)
    if args.orgs:  # --orgs with no folder: the per-file part only
        print("per org folder (verify + score):")
        bench_orgs(args.orgs, args.repeat)
        print("per org folder as a user runs it (fresh processes, imports included):")
        bench_orgs_cli(args.orgs, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
