"""Our verdicts and scores next to the official tools' on the same input: the one comparison
behind ``check --official`` (any PATH) and ``verify --official`` (an org folder).

A disagreement means our mirror of the official behaviour is wrong somewhere (or the official
tool crashed where we give a verdict); ``check`` exits 1 on a verdict disagreement and
``verify`` fails on any. Each is ``{"what", "path", "ours", "official"}``, ``what`` one of:

- ``verdict``: compliance_checker (a log), system_desc_checker (a system JSON) or
  package_checker (an org folder) passes / fails / crashes where we do not;
- ``rcp``: the standalone rcp_checker's pass and message on a closed result dir;
- ``score``: result_summarizer's olympic score (minutes) for a result dir, or it crashed;
- ``file``: a result file result_summarizer drops (failed compliance) and we keep, or back;
- ``repo``: repo_checker's verdict against our repo rules (only when the caller has them).

The tools run on temporary copies (``official.py``), never on the input.

    cmp = compare_org(check_org("org", "4.0.0"), "4.0.0")
    cmp.passed, cmp.disagreements
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mlperf_submit.compliance.official import (
    OfficialVerdict,
    compliance_checker,
    dir_score,
    package_checker,
    rcp_checker,
    repo_checker,
    result_summarizer,
    system_desc_checker,
)

SCORE_TOLERANCE_MINUTES = 1e-9


@dataclass
class OfficialComparison:
    verdicts: list[OfficialVerdict] = field(default_factory=list)  # in the order they ran
    disagreements: list[dict] = field(default_factory=list)

    def add(self, v: OfficialVerdict) -> OfficialVerdict:
        self.verdicts.append(v)
        return v

    def disagree(self, what: str, path: str, ours, theirs) -> None:
        self.disagreements.append({"what": what, "path": path, "ours": ours, "official": theirs})

    def verdict(self, tool: str) -> OfficialVerdict | None:
        return next((v for v in self.verdicts if v.tool == tool), None)

    @property
    def passed(self) -> bool:
        """The official tools accept the input: every verdict passes (for an org folder:
        package_checker and repo_checker pass, result_summarizer ran without a crash or a
        CRITICAL ERROR)."""
        return all(v.passed is True for v in self.verdicts)

    def lines(self) -> list[str]:
        """``verify --official``'s report block."""
        out = ["official tools (on a copy of the tree):"]
        for v in self.verdicts:
            out.append(f"  {v.tool}: {v.verdict} — {v.message} ({v.seconds:.1f} s)")
            for e in v.errors[:5]:
                out.append(f"      ERROR - {e}")
        if self.disagreements:
            out.append(f"  DISAGREEMENTS with our checks: {len(self.disagreements)}")
            for d in self.disagreements:
                out.append(
                    f"    {d['what']} {d['path']}: ours {d['ours']!r}, official {d['official']!r}"
                )
        else:
            out.append("  no disagreement with our checks")
        return out

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "disagreements": self.disagreements,
        }


# ---------------------------------------------------------------- one comparison per kind


def _verdict_vs(cmp: OfficialComparison, v: OfficialVerdict, path: str, ours, crash) -> None:
    """The tool's verdict against ours (``ours`` True/False, ``crash`` our predicted crash)."""
    if v.crashed != bool(crash) or (not v.crashed and v.passed != ours):
        label = "CRASH" if crash else ("PASS" if ours else "FAIL")
        cmp.disagree("verdict", path, label, v.verdict)


def compare_file(cmp: OfficialComparison, fr, ruleset: str) -> None:
    """compliance_checker on one log (``fr``: a filecheck.FileReport)."""
    v = cmp.add(compliance_checker(fr.path, ruleset))
    _verdict_vs(cmp, v, fr.path, fr.passed, fr.official_crash)


def compare_system(cmp: OfficialComparison, desc, ruleset: str) -> None:
    """system_desc_checker on one system JSON (``desc``: a system_desc.SystemDesc)."""
    v = cmp.add(system_desc_checker(desc.path, ruleset))
    if v.crashed != bool(desc.official_crash) or (
        not v.crashed and v.passed != (desc.official_passed and not desc.official_crash)
    ):
        cmp.disagree("verdict", desc.path, desc.official_passed and not desc.official_crash,
                     v.verdict)  # fmt: skip


def compare_rcp(cmp: OfficialComparison, d) -> None:
    """The standalone rcp_checker on a closed result dir (``d``: a runset.DirReport)."""
    if not d.rcp_applies or d.rcp is None:
        return
    v = cmp.add(rcp_checker(d.path, d.ruleset))
    ours_msg = d.rcp.message.removesuffix(" passed using rcp_bypass")
    ours_pass = d.rcp.passed and not d.rcp.bypassed  # the standalone tool has no bypass
    if v.crashed != bool(d.rcp.crash) or (
        not v.crashed and (v.passed, v.message) != (ours_pass, ours_msg)
    ):
        cmp.disagree("rcp", d.path, f"{ours_pass} {ours_msg}", f"{v.passed} {v.message}")


def compare_scores(cmp: OfficialComparison, dirs, scores: dict) -> None:
    """result_summarizer's scores (``{(system, benchmark): minutes | None}``) against ours."""
    for d in dirs:
        key = (d.system, d.benchmark)
        if d.skipped or key not in scores:
            continue
        # the summarizer runs once on a copy of the dir as it stands: its committed scaling.json
        ours = d.score.summarizer_minutes if d.score else None
        theirs = scores[key]
        if (ours is None) != (theirs is None) or (
            ours is not None and abs(ours - theirs) > SCORE_TOLERANCE_MINUTES
        ):
            cmp.disagree("score", d.path, ours, theirs)


def compare_dir_score(cmp: OfficialComparison, d) -> None:
    """The summarizer's score of a lone result dir (its per-directory function)."""
    if d.skipped or not d.benchmark:
        return
    v = cmp.add(dir_score(d.path, d.benchmark, d.ruleset))
    if v.crashed:
        cmp.disagree("score", d.path, d.score.summarizer_minutes if d.score else None, v.verdict)
        return
    compare_scores(cmp, [d], {(d.system, d.benchmark): v.extra["score"]})


def compare_result_dir(cmp: OfficialComparison, d) -> None:
    """Every log of a result dir, its RCP and its score."""
    for fr in d.files:
        compare_file(cmp, fr, d.ruleset)
    compare_rcp(cmp, d)
    compare_dir_score(cmp, d)


def compare_org(
    org,
    ruleset: str,
    *,
    rcp_bypass: bool = False,
    seed_bypass: bool = False,
    ours_repo_passed: bool | None = None,
) -> OfficialComparison:
    """package_checker, result_summarizer and repo_checker on an org folder (``org``: an
    orgfolder.OrgReport checked with the same bypasses). ``ours_repo_passed``: our repo rules'
    verdict, compared with repo_checker's; None (``check``, which has no repo rules): only run."""
    cmp = OfficialComparison()
    folder = org.path
    pc = cmp.add(
        package_checker(folder, ruleset, rcp_bypass=rcp_bypass, seed_checker_bypass=seed_bypass)
    )
    _verdict_vs(cmp, pc, folder, org.passed, org.official_crash)

    summary = cmp.add(result_summarizer(folder, ruleset))
    if summary.crashed:
        cmp.disagree("score", folder, "scores computed", summary.message)
    else:
        compare_scores(cmp, org.dirs, summary.extra.get("scores", {}))
        # the runs each side drops: failed compliance (ours) vs "<error> in <file>" (theirs)
        ours = {
            os.path.abspath(fr.path)
            for d in org.dirs
            if not d.skipped
            for fr in d.files
            if not fr.passed
        }
        theirs = {os.path.abspath(p) for p in summary.extra.get("dropped_files", [])}
        for path in sorted(ours ^ theirs):
            cmp.disagree("file", path, "FAIL" if path in ours else "PASS",
                         "FAIL" if path in theirs else "PASS")  # fmt: skip

    repo = cmp.add(repo_checker(folder, ruleset))
    if ours_repo_passed is not None and not repo.crashed and repo.passed != ours_repo_passed:
        cmp.disagree("repo", folder, "PASS" if ours_repo_passed else "FAIL", repo.verdict)
    return cmp


def compare_target(target, *, rcp_bypass: bool = False, seed_bypass: bool = False) -> None:
    """``check --official``: compare one checked PATH (a report_format.Target) with the official
    tools; its verdicts and disagreements are added to the target."""
    rep, rs = target.report, target.ruleset
    if target.kind == "org":
        cmp = compare_org(rep, rs, rcp_bypass=rcp_bypass, seed_bypass=seed_bypass)
    else:
        cmp = OfficialComparison()
        if target.kind == "file":
            compare_file(cmp, rep, rs)
        elif target.kind == "system":
            compare_system(cmp, rep, rs)
        elif target.kind == "dir":
            compare_result_dir(cmp, rep)
        else:  # "files": loose logs, no run set to score
            for fr in rep.files:
                compare_file(cmp, fr, rs)
    target.official.extend(cmp.verdicts)
    target.disagreements.extend(cmp.disagreements)
