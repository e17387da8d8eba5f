"""Verify a submission org folder: the official verdict, the tree rules, the summary.

Layers, each reported separately:
1. ``compliance.orgfolder.check_org``: package_checker's checks with its verdict (system JSONs,
   run counts, compliance of every file, olympic tolerance, seeds, RCP, scores) plus trap
   warnings (org/division in the logs vs the system JSON);
2. tree rules (:mod:`.tree_rules`): repo rules, an implementation folder per benchmark with
   results (skip with ``check_code=False``), platform/placeholder warnings;
3. optionally the official tools themselves on a copy (``compliance.official_compare``, the
   same comparison as ``check --official``, plus repo_checker against our repo rules), with
   every disagreement listed.

The summary tables (official result_summarizer columns) come from layer 1's scores. Nothing is
written to the input folder.

    rep = verify_org("out/DryRunOrg", "4.0.0")
    rep.passed, rep.summary.strong[0]["resnet"]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.findings import Finding
from mlperf_submit.compliance.inputs import require_usable_org
from mlperf_submit.compliance.orgfolder import OrgReport, check_org, is_org_folder, org_benchmarks
from mlperf_submit.errors import InputError, UsageError
from mlperf_submit.submission.summary import SummaryTables, summary_tables
from mlperf_submit.submission.tree_rules import (
    implementation_findings,
    platform_findings,
    repo_findings,
)


@dataclass
class VerifyReport:
    folder: str
    ruleset: str
    ruleset_inferred: bool
    org: OrgReport
    tree: list[Finding]
    summary: SummaryTables
    official: object | None = None  # compliance.official_compare.OfficialComparison
    notes: list[str] = field(default_factory=list)

    @property
    def tree_errors(self) -> list[Finding]:
        return [f for f in self.tree if f.severity == "error"]

    @property
    def tree_warnings(self) -> list[Finding]:
        return [f for f in self.tree if f.severity == "warning"]

    @property
    def passed(self) -> bool:
        ok = self.org.passed and not self.tree_errors
        if self.official is not None:
            ok = ok and self.official.passed and not self.official.disagreements
        return ok


def default_ruleset(folder: str) -> str:
    """The newest ruleset that contains every benchmark with results in the folder."""
    benchmarks = org_benchmarks(folder)
    if not benchmarks:
        raise InputError(f"{folder}: no results/<system>/<benchmark>/ folders")
    newest = meta.newest_ruleset(*benchmarks)
    if newest is None:
        where = "; ".join(meta.where_is(bm) for bm in benchmarks)
        raise UsageError(
            f"{folder}: no ruleset contains all of {', '.join(benchmarks)} ({where}); a tree "
            "targets one round: pass --ruleset, or split the tree"
        )
    return newest


def official_behaviour_notes(org: OrgReport) -> list[str]:
    """Explain verdicts that come from a quirk of the official tools rather than the rules."""
    notes = []
    no_seed = {
        d.path
        for d in org.dirs
        if any(f.kind == "seed" and "logs no seed" in f.message for f in d.errors)
    }
    if no_seed and meta.version_key(org.ruleset) < (4, 1, 0):
        notes.append(
            f"official behaviour: package_checker's seed checker requires a `seed` line in every "
            f"closed-division result file for every ruleset from 1.0.0 to 6.1.0, {org.ruleset} "
            "included, although the rules require logging seeds only from v4.1 "
            f"({len(no_seed)} dir(s) here); the official tool rejects this folder the same way"
        )
    if any(d.seed_bypass for d in org.dirs):
        notes.append("a seed-checker bypass is active for some dirs (package_checker_params)")
    return notes


def verify_org(
    folder: str,
    ruleset: str | None = None,
    *,
    check_code: bool = True,
    official: bool = False,
) -> VerifyReport:
    folder = os.fspath(folder)  # kept as given: the paths reported start with it
    if not os.path.exists(folder):
        raise InputError(f"{folder}: no such directory")
    if not is_org_folder(folder):
        raise InputError(f"{folder}: not an org folder (needs systems/ and results/ inside)")
    require_usable_org(folder)  # before anything is checked or written
    inferred = ruleset is None
    ruleset = meta.check_ruleset(ruleset) if ruleset else default_ruleset(folder)
    org = check_org(folder, ruleset)
    tree = repo_findings(folder)
    if check_code:
        tree += implementation_findings(org)
    tree += platform_findings(org)
    rep = VerifyReport(folder, ruleset, inferred, org, tree, summary_tables(org))
    rep.notes = official_behaviour_notes(org)
    if official:
        from mlperf_submit.compliance.official_compare import compare_org

        repo_errors = [f for f in tree if f.kind == "repo" and f.severity == "error"]
        rep.official = compare_org(org, ruleset, ours_repo_passed=not repo_errors)
    return rep
