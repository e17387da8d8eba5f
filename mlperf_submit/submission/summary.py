"""``summary.csv`` / ``summary.json`` with the columns of the official ``result_summarizer``.

Columns (docs/official-tools.md §7.3): ``division, availability, submitter, system,
number_of_nodes, host_processor_model_name, host_processors_count, accelerator_model_name,
accelerators_count, framework, notes, private_id, <one column per allowed benchmark of the
ruleset>, details_url, code_url``. The detailed table replaces each benchmark column with
``<bm>:time_to_train, <bm>:Energy, <bm>:GBS, <bm>:samples_to_converge, <bm>:RCP,
<bm>:rcp_scaling_factor``.

The column schema is the official one (imported from the pinned ``mlperf_logging``), and the
rows go through pandas with the same dtypes, sort and ``to_csv``/``to_json`` calls, so the files
match what the summarizer writes on the same tree (where its score is right: it prints unscaled
scores on a tree whose ``scaling.json`` the RCP check has not written yet; so do we). Unlike
the official tool we write the strong table to ``summary.json`` and the detailed one to
``summary_detailed.json`` (the official tool overwrites the first with the second), and nothing
is written into the org folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlperf_submit.compliance import meta
from mlperf_submit.compliance.orgfolder import OrgReport
from mlperf_submit.compliance.system_desc import SystemDesc
from mlperf_submit.submission.atomic import write_file_atomic

SUMMARY_FILES = ("summary.csv", "summary.json", "summary_detailed.csv", "summary_detailed.json")


def _schema(ruleset: str, detailed: bool) -> dict:
    from mlperf_logging.result_summarizer.result_summarizer import _get_column_schema

    return _get_column_schema("training", ruleset, detailed=detailed)


def _url_prefix(ruleset: str) -> str:
    short = ruleset[:3] + ruleset[3:].replace(".0", "")
    return f"https://github.com/mlcommons/training_results_v{short}"


def _pretty_system(desc: dict) -> str:
    name = desc["system_name"]
    if name == "tpu-v3":
        return f"TPUv3.{int(desc['accelerators_per_node']) * 2}"
    return name


def _pretty_framework(framework: str) -> str:
    if "TensorFlow" in framework:
        m = re.search(r" commit hash = .*", framework)
        if m:
            return framework.replace(m.group(0), "")
    return framework


def _private_id(org: str, system: str) -> str:
    path = os.path.join(org, "results", system, "privateid.json")
    if not os.path.isfile(path):  # absent, or a named pipe that would block the read
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            return str(json.load(f).get("private_id", ""))
    except (OSError, ValueError, AttributeError):
        return ""


@dataclass
class SummaryTables:
    strong: list[dict]
    detailed: list[dict]
    skipped: list[
        str
    ]  # systems without a usable row, with the reason (the official tool prints it)


_RCP_LABELS = {"RCP found": "Fail", "RCP Interpolation": "Interp. Fail",
               "Cannot find any RCPs": "No RCP"}  # fmt: skip


def _rcp_label(d) -> str:
    if not d.rcp_applies or d.rcp is None:
        return ""
    if d.rcp.crash:
        return "Unknown state"
    if d.rcp.passed and not d.rcp.bypassed:
        return "Pass"
    msg = d.rcp.message
    if "Missing" in msg:
        return "Missing"
    return _RCP_LABELS.get(msg, "Unknown state")


def _samples_to_converge(d) -> float | None:
    if not d.rcp_applies or d.rcp is None or d.rcp.crash:
        return None
    points = sorted(float(p) for p in d.rcp.points if p is not None)
    if len(points) < 3:
        return None
    kept = points[1:-1]
    return float(sum(kept) / len(kept))


def summary_tables(org: OrgReport) -> SummaryTables:
    """Rows of the strong and detailed tables for one checked org folder."""
    ruleset = org.ruleset
    allowed = set(meta.allowed_benchmarks(ruleset))
    by_name: dict[str, SystemDesc] = {s.name: s for s in org.systems}
    systems = sorted({d.system for d in org.dirs if d.system})
    strong, detailed, skipped = [], [], []
    for system in systems:
        sd = by_name.get(system)
        desc = sd.contents if sd else None
        if not desc:
            skipped.append(f"{system}: no readable systems/{system}.json")
            continue
        try:
            specs = {
                "division": desc["division"],
                "availability": desc["status"],
                "submitter": desc["submitter"],
                "system": _pretty_system(desc),
                "number_of_nodes": desc["number_of_nodes"],
                "host_processor_model_name": desc["host_processor_model_name"],
                "host_processors_count": int(desc["host_processors_per_node"])
                * int(desc["number_of_nodes"]),
                "accelerator_model_name": desc["accelerator_model_name"],
                "accelerators_count": int(desc["accelerators_per_node"])
                * int(desc["number_of_nodes"]),
                "framework": _pretty_framework(desc["framework"]),
                "notes": ";".join(s for s in (desc["hw_notes"], desc["sw_notes"]) if s),
                "private_id": _private_id(org.path, system),
            }
        except KeyError as err:
            skipped.append(f"{system}: field {err.args[0]} missing in {sd.path}")
            continue
        except (ValueError, TypeError) as err:
            skipped.append(f"{system}: {err} in {sd.path} (result_summarizer crashes here)")
            continue
        urls = {
            "details_url": f"{_url_prefix(ruleset)}/blob/main/{desc['submitter']}/systems/"
            f"{system}.json",
            "code_url": f"{_url_prefix(ruleset)}/blob/master/{desc['submitter']}/benchmarks",
        }
        scores = dict.fromkeys(sorted(allowed))
        det: dict = {}
        for bm in allowed:
            det.update({f"{bm}:time_to_train": None, f"{bm}:Energy": None, f"{bm}:GBS": None,
                        f"{bm}:samples_to_converge": None, f"{bm}:RCP": "",
                        f"{bm}:rcp_scaling_factor": None})  # fmt: skip
        for d in org.dirs:
            if d.system != system or d.benchmark not in allowed:
                continue
            bm = d.benchmark
            # the summarizer's numbers on the tree as it stands (committed scaling.json)
            minutes = d.score.summarizer_minutes if d.score else None
            scores[bm] = minutes
            det[f"{bm}:time_to_train"] = minutes
            det[f"{bm}:rcp_scaling_factor"] = float(d.score.committed_factor) if d.score else 1.0
            det[f"{bm}:RCP"] = _rcp_label(d)
            if d.rcp_applies and d.rcp is not None and not d.rcp.crash:
                with contextlib.suppress(TypeError, ValueError):  # no usable GBS: empty cell
                    det[f"{bm}:GBS"] = float(d.rcp.bs)
            det[f"{bm}:samples_to_converge"] = _samples_to_converge(d)
        strong.append({**specs, **scores, **urls})
        detailed.append({**specs, **det, **urls})
    return SummaryTables(strong, detailed, skipped)


def _frame(rows: list[dict], ruleset: str, detailed: bool):
    import pandas as pd

    schema = _schema(ruleset, detailed)
    df = pd.DataFrame([{c: r.get(c) for c in schema} for r in rows], columns=list(schema))
    df = df.astype(schema)
    return df.sort_values(by=list(df.columns))


def write_summary(tables: SummaryTables, ruleset: str, out_dir: Path, *, force=False) -> list[Path]:
    """Write the four files into ``out_dir`` (atomic each; existing files need ``force``)."""
    out_dir = Path(out_dir)
    if not force:
        for name in SUMMARY_FILES:
            write_check = out_dir / name
            if write_check.exists():
                from mlperf_submit.errors import UsageError

                raise UsageError(f"{write_check} already exists; refusing to overwrite it "
                                 "(pass --force, or choose another --summary-dir)")  # fmt: skip
    written = []
    for rows, detailed, base in ((tables.strong, False, "summary"),
                                 (tables.detailed, True, "summary_detailed")):  # fmt: skip
        df = _frame(rows, ruleset, detailed)
        csv = df.to_csv(index=False)
        records = json.loads(df.to_json(orient="records"))
        write_file_atomic(out_dir / f"{base}.csv", csv, force=True)
        write_file_atomic(out_dir / f"{base}.json", json.dumps(records, indent=2), force=True)
        written += [out_dir / f"{base}.csv", out_dir / f"{base}.json"]
    return written
