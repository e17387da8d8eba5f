"""``verify --official``: run package_checker, result_summarizer and repo_checker on a copy of the
tree (``compliance.official`` does the copying and reads their verdicts: they all exit 0) and
list every disagreement with our own verdicts and scores.

A disagreement means our mirror of the official behaviour is wrong somewhere (or the official
tool crashed where we give a verdict): ``verify`` fails on it, so it is never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlperf_submit.compliance import official


@dataclass
class OfficialComparison:
    verdicts: list = field(default_factory=list)  # official.OfficialVerdict
    disagreements: list[dict] = field(default_factory=list)

    def verdict(self, tool: str):
        return next((v for v in self.verdicts if v.tool == tool), None)

    @property
    def passed(self) -> bool:
        """The official tools accept the tree: package_checker and repo_checker pass, and
        result_summarizer ran without a crash or a CRITICAL ERROR."""
        return all(v.passed is True for v in self.verdicts)

    def lines(self) -> list[str]:
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


def compare_with_official(rep) -> OfficialComparison:
    """``rep`` is a verify.VerifyReport; the tools run on copies, never on ``rep.folder``."""
    cmp = OfficialComparison()
    org, folder, rs = rep.org, rep.folder, rep.ruleset

    pc = official.package_checker(folder, rs)
    cmp.verdicts.append(pc)
    ours = "CRASH" if org.official_crash else org.verdict
    if pc.crashed != bool(org.official_crash) or (not pc.crashed and pc.passed != org.passed):
        cmp.disagreements.append({"what": "package_checker verdict", "path": folder,
                                  "ours": ours, "official": pc.verdict})  # fmt: skip

    rsum = official.result_summarizer(folder, rs)
    cmp.verdicts.append(rsum)
    if rsum.crashed:
        cmp.disagreements.append({"what": "result_summarizer", "path": folder,
                                  "ours": "scores computed", "official": rsum.message})  # fmt: skip
    else:
        scores = rsum.extra.get("scores", {})
        for d in org.dirs:
            key = (d.system, d.benchmark)
            if d.skipped or key not in scores:
                continue
            mine = d.score.minutes if d.score else None
            theirs = scores[key]
            if (mine is None) != (theirs is None) or (
                mine is not None and abs(mine - theirs) > 1e-9
            ):
                cmp.disagreements.append({"what": "score (minutes)", "path": d.path,
                                          "ours": mine, "official": theirs})  # fmt: skip

    repo = official.repo_checker(folder, rs)
    cmp.verdicts.append(repo)
    repo_errors = [f for f in rep.tree if f.kind == "repo" and f.severity == "error"]
    if not repo.crashed and repo.passed != (not repo_errors):
        cmp.disagreements.append({"what": "repo_checker verdict", "path": folder,
                                  "ours": "FAIL" if repo_errors else "PASS",
                                  "official": repo.verdict})  # fmt: skip
    return cmp
