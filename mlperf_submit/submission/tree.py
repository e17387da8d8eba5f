"""Build a submission tree from campaign directories (``mlperf-submit package``).

    res = package(PackageOptions(org="MyOrg", division="open", detect=True,
                                 system_name="cpu_node", campaigns=[Path("out/resnet")],
                                 out=Path("out/tree")))

Every check that can refuse runs before anything is written: names, campaigns (one ruleset per
tree, benchmarks allowed in it, the division of the runs, synthetic data refused in closed),
the system description (33 keys, status enum, strings, integer counts), the logs' own
``submission_org``/``submission_division`` (a result file is the log as written; we never edit
it), the run count. Then ``OUT/<org>/`` is written atomically:

    systems/<system>.json
    results/<system>/<bm>/result_<i>.txt        only the :::MLLOG lines of each chosen run
    benchmarks/<bm>/implementations/<impl>/     code, README.md, run_and_time.sh, config, runs
    README.md                                   what this tree is (says DRY RUN when synthetic)
"""

from __future__ import annotations

import json
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.filecheck import check_file
from mlperf_submit.compliance.inputs import read_json_file
from mlperf_submit.compliance.parser import log_lines, regular_file
from mlperf_submit.compliance.system_desc import COUNT_FIELDS, load_system_desc
from mlperf_submit.errors import CheckFailed, InputError, UsageError
from mlperf_submit.submission.atomic import AtomicTree
from mlperf_submit.submission.campaign import Campaign, read_campaign
from mlperf_submit.submission.detect import DEFAULT_STATUS, SYSTEM_KEYS, detect_system
from mlperf_submit.submission.implementation import Candidate, code_version, write_implementation
from mlperf_submit.submission.names import check_name, suggest_name
from mlperf_submit.submission.runconfig import resolved_config
from mlperf_submit.submission.select import RunChoice, choose_runs

DEFAULT_IMPL = "mlperf_submit_pytorch"
DRY_RUN_NOTE = (
    "DRY RUN: synthetic data, tiny preset; tests the submission pipeline, not a result on the "
    "real dataset"
)
MLLOG = ":::MLLOG "


@dataclass
class PackageOptions:
    org: str
    division: str
    campaigns: list[Path]
    out: Path
    system_file: Path | None = None
    detect: bool = False
    system_name: str | None = None
    impl: str = DEFAULT_IMPL
    ruleset: str | None = None
    force: bool = False


@dataclass
class PackagedBenchmark:
    benchmark: str
    result_dir: Path
    candidates: list[Candidate]
    chosen: list[int]
    selection: str


@dataclass
class PackageResult:
    org_dir: Path
    system: str
    ruleset: str
    division: str
    synthetic: bool
    benchmarks: list[PackagedBenchmark] = field(default_factory=list)
    system_notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- system description


def _load_user_system(path: Path) -> dict:
    if not path.exists() and not path.is_symlink():
        raise InputError(f"--system {path}: no such file")
    data = read_json_file(path, "system description")  # a regular file, small, JSON
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object with the system description keys")
    return data


def build_system(
    opts: PackageOptions, ruleset: str, synthetic: bool
) -> tuple[str, dict, list[str]]:
    """(system id, description, notes) after validation; CheckFailed lists every problem."""
    if not opts.detect and opts.system_file is None:
        raise UsageError("give the system description: --system FILE, or --detect")
    user = _load_user_system(Path(opts.system_file)) if opts.system_file else {}
    if opts.system_name:
        system = opts.system_name
    elif opts.system_file:
        system = Path(opts.system_file).stem
    else:
        system = suggest_name(socket.gethostname())
    check_name("system", system)
    desc = detect_system(opts.org, opts.division, system) if opts.detect else {}
    desc.update(user)  # the user's file overrides what was detected
    for key, want, flag in (("submitter", opts.org, "--org"),
                            ("division", opts.division, "--division")):  # fmt: skip
        if key in user and user[key] != want:
            raise UsageError(f"{opts.system_file}: {key} is {user[key]!r} but {flag} is {want!r}; "
                             "they must agree (the system JSON decides how results are checked)")  # fmt: skip
        desc[key] = want
    desc.setdefault("system_name", system)
    desc.setdefault("status", DEFAULT_STATUS)
    if synthetic:
        sw = desc.get("sw_notes", "")
        if not (isinstance(sw, str) and DRY_RUN_NOTE in sw):
            desc["sw_notes"] = DRY_RUN_NOTE + (f"; {sw}" if sw else "")
    ordered = {k: desc[k] for k in SYSTEM_KEYS if k in desc}
    ordered.update({k: v for k, v in desc.items() if k not in ordered})
    problems, notes = _validate_system(ordered, ruleset, opts.system_file)
    if problems:
        where = opts.system_file or "the detected system description"
        raise CheckFailed(f"system description ({where}) is not usable for ruleset {ruleset}:\n"
                          + "\n".join(f"  - {p}" for p in problems))  # fmt: skip
    return system, ordered, notes


def _validate_system(desc: dict, ruleset: str, source) -> tuple[list[str], list[str]]:
    with tempfile.TemporaryDirectory(prefix="mlperf-sys-") as tmp:
        path = Path(tmp) / "system.json"
        path.write_text(json.dumps(desc, indent=2), encoding="utf-8")
        checked = load_system_desc(str(path), ruleset)
    problems, notes = [], []
    for f in checked.findings:
        msg = f.message.replace(f"{path}: ", "")
        text = msg + (f" (fix: {f.hint})" if f.hint else "")
        # The official verdict, plus our rule that the counts are integer strings (the
        # summarizer crashes on int() otherwise).
        if f.severity == "error" or f.key in COUNT_FIELDS:
            problems.append(text)
        else:
            notes.append(text)
    empty = [k for k in SYSTEM_KEYS if desc.get(k) == ""]
    if empty and source is None:
        notes.append("left empty (unknown on this machine; give them in --system FILE): "
                     + ", ".join(empty))  # fmt: skip
    return problems, notes


# ----------------------------------------------------------------------------- campaigns and runs


def _group_campaigns(paths: list[Path]) -> dict[str, list[Campaign]]:
    if not paths:
        raise UsageError("give at least one campaign directory")
    groups: dict[str, list[Campaign]] = {}
    for p in paths:
        camp = read_campaign(p)
        groups.setdefault(camp.benchmark, []).append(camp)
    for bm, camps in groups.items():
        first = camps[0]
        for other in camps[1:]:
            for attr in ("ruleset", "division", "data", "preset", "train_args"):
                if getattr(other, attr) != getattr(first, attr):
                    raise UsageError(
                        f"campaigns {first.path} and {other.path} of {bm} differ in {attr} "
                        f"({getattr(first, attr)!r} vs {getattr(other, attr)!r}); the runs of "
                        "one result directory must share one configuration"
                    )
    return groups


def _tree_ruleset(groups: dict[str, list[Campaign]], wanted: str | None) -> str:
    if wanted:
        ruleset = meta.check_ruleset(wanted)
    else:
        found = {c.ruleset for camps in groups.values() for c in camps}
        if len(found) != 1:
            per = ", ".join(f"{bm}: {camps[0].ruleset}" for bm, camps in sorted(groups.items()))
            raise UsageError(
                f"a submission tree targets one round (ruleset), but these campaigns use "
                f"several ({per}); package each round separately, or pass --ruleset"
            )
        ruleset = meta.check_ruleset(found.pop())
    for bm in groups:
        if not meta.is_allowed(bm, ruleset):
            raise UsageError(
                f"{bm} is not a benchmark of ruleset {ruleset} (package_checker would skip it); "
                f"{meta.where_is(bm)}"
            )
    return ruleset


def _candidates(bm: str, camps: list[Campaign], ruleset: str, org: str, division: str):
    out = []
    for camp in camps:
        logs = camp.runs_with_logs
        if not logs:
            raise CheckFailed(f"{camp.path}: the campaign has no run logs (status: "
                              f"{', '.join(sorted({r.status for r in camp.runs})) or 'no runs'})")  # fmt: skip
        for run in logs:
            rep = check_file(run.log, ruleset, quiet=True)
            sub = rep.facts.submission
            for key, want, flag in (("submission_org", org, "--org"),
                                    ("submission_division", division, "--division")):  # fmt: skip
                if key in sub and sub[key] != want:
                    raise CheckFailed(
                        f"{run.log}: logs {key} {sub[key]!r} but {flag} is {want!r}; a result "
                        "file is the log as written and is never edited: rerun the campaign "
                        f"with matching values (e.g. `mlperf-submit campaign ... -- --org {org}`)"
                        f" or package with {flag} {sub[key]}"
                    )
            if sub.get("submission_benchmark") not in (None, bm):
                raise CheckFailed(f"{run.log}: logs submission_benchmark "
                                  f"{sub.get('submission_benchmark')!r} in a {bm} campaign")  # fmt: skip
            out.append(Candidate(camp, run.index, run.seed, run.status, run.log, rep.passed,
                                 rep.facts.ttt_minutes(), run.command))  # fmt: skip
    return out


def mllog_lines(path: Path) -> str:
    """Only the MLLOG records of a log, each from its ``:::MLLOG`` token to the line end (read in
    bounded memory: a line over 16 MiB is kept from its last token, ``parser.log_lines``)."""
    out = []
    regular_file(path, "run log")
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        for line in log_lines(f, path):
            i = line.find(MLLOG)
            if i >= 0:
                out.append(line[i:].rstrip("\r\n") + "\n")
    return "".join(out)


# ----------------------------------------------------------------------------- the tree


def _org_readme(res: PackageResult, opts: PackageOptions) -> str:
    lines = [f"# {opts.org}: MLPerf Training submission tree (ruleset {res.ruleset}, "
             f"{res.division} division)", ""]  # fmt: skip
    if res.synthetic:
        lines += [f"> **{DRY_RUN_NOTE}.**", "> The results exercise the submission pipeline "
                  "end to end; they are not a measurement of this system.", ""]  # fmt: skip
    lines += [f"Built by {code_version()} from: "
              + ", ".join(f"`{p}`" for p in opts.campaigns) + ".", "",
              "Check it with the official tools:", "", "```bash",
              f"python -m mlperf_logging.package_checker {opts.org} training {res.ruleset}",
              f"python -m mlperf_logging.result_summarizer {opts.org} training {res.ruleset}",
              "```", "", "or with `mlperf-submit verify` (same verdict, plus the tree rules):",
              "", "```bash", f"mlperf-submit verify {opts.org} --ruleset {res.ruleset} --official",
              "```", "", "| benchmark | system | runs submitted |", "|---|---|---|"]  # fmt: skip
    for b in res.benchmarks:
        lines.append(f"| {b.benchmark} | {res.system} | {b.selection} |")
    return "\n".join(lines) + "\n"


def package(opts: PackageOptions) -> PackageResult:
    check_name("org", opts.org)
    check_name("implementation", opts.impl)
    if opts.division not in ("open", "closed"):
        raise UsageError(f"--division {opts.division!r}: choose open or closed")
    dest = Path(opts.out) / opts.org
    if dest.exists() and not opts.force:
        raise UsageError(f"output tree {dest} already exists; refusing to overwrite it "
                         "(pass --force to replace it, or choose another --out)")  # fmt: skip
    groups = _group_campaigns([Path(p) for p in opts.campaigns])
    ruleset = _tree_ruleset(groups, opts.ruleset)
    synthetic = any(c.synthetic for camps in groups.values() for c in camps)
    for bm, camps in groups.items():
        for c in camps:
            if c.division != opts.division:
                raise UsageError(f"{c.path}: the runs are {c.division!r} division but --division "
                                 f"is {opts.division!r}")  # fmt: skip
            if opts.division == "closed" and c.synthetic:
                raise UsageError(f"{c.path}: {bm} ran on synthetic data; a closed-division tree "
                                 "only takes runs on the real dataset (package it as --division "
                                 "open, a dry run)")  # fmt: skip
    system, desc, notes = build_system(opts, ruleset, synthetic)
    res = PackageResult(dest, system, ruleset, opts.division, synthetic, system_notes=notes)
    plans = []
    for bm, camps in sorted(groups.items()):
        cands = _candidates(bm, camps, ruleset, opts.org, opts.division)
        required = meta.required_runs(bm)
        if required is None:
            raise UsageError(f"{bm}: mlperf-logging does not know how many runs it needs")
        sel = choose_runs([RunChoice(c.label, c.ttt_minutes if c.passed else None) for c in cands],
                          required, benchmark=bm)  # fmt: skip
        config = resolved_config(bm, camps[0].preset, camps[0].train_args, ruleset)
        plans.append((bm, camps[0], cands, sel, config))
    with AtomicTree(dest, force=opts.force, what="output tree") as tmp:
        (tmp / "systems").mkdir()
        (tmp / "systems" / f"{system}.json").write_text(json.dumps(desc, indent=2) + "\n",
                                                        encoding="utf-8")  # fmt: skip
        for bm, camp, cands, sel, config in plans:
            rdir = tmp / "results" / system / bm
            rdir.mkdir(parents=True)
            for k, ci in enumerate(sel.chosen):
                (rdir / f"result_{k}.txt").write_text(mllog_lines(cands[ci].log),
                                                      encoding="utf-8", errors="surrogateescape")  # fmt: skip
            write_implementation(
                tmp / "benchmarks" / bm / "implementations" / opts.impl,
                benchmark=bm, ruleset=ruleset, division=opts.division, system=system,
                impl=opts.impl, campaign=camp, config=config, candidates=cands,
                chosen=sel.chosen, selection=sel.reason,
            )  # fmt: skip
            res.benchmarks.append(PackagedBenchmark(bm, dest / "results" / system / bm, cands,
                                                    sel.chosen, sel.reason))  # fmt: skip
        (tmp / "README.md").write_text(_org_readme(res, opts), encoding="utf-8")
    return res
