"""The facts of a configuration that ``compliance.preflight.assess`` judges.

Everything comes from the benchmark's own class (``benchmarks/common/interface.py``), built with
a :class:`RunContext` whose ``world_size`` is nodes x processes per node, so any registered
benchmark works without a table here:

* ``closed_problems(cfg)``, ``global_batch_size()``;
* the planned evaluation points: the ends of ``blocks()`` (each block ends with one evaluation,
  in the benchmark's progress unit);
* the init section: written by the common Trainer exactly as ``train --log-only`` writes it
  (model on the meta device where the benchmark supports it, no data, no step), then checked
  offline under the closed rules of the ruleset; findings about keys only a training run can
  log are not counted (``compliance/init_section.py``).
"""

from __future__ import annotations

import itertools
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_submit.errors import UsageError

PRESET_SHAPE = re.compile(r"_(\d+)x(\d+)x\d+")
MAX_BLOCKS = 200


def preset_shape(preset: str) -> tuple[int, int] | None:
    """``config_DGXH100_8x8x204`` -> (8 nodes, 8 processes per node), the MLPerf naming."""
    m = PRESET_SHAPE.search(preset)
    return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass
class ConfigFacts:
    benchmark: str
    preset: str
    ruleset: str
    nodes: int
    nproc_per_node: int
    global_batch_size: int
    closed_problems: list[str]
    progress_unit: str
    planned_evals: list[float] = field(default_factory=list)
    planned_note: str | None = None
    init_errors: list = field(default_factory=list)
    init_skipped: int = 0  # findings about run-section keys, not counted
    logged: dict = field(default_factory=dict)  # the init section's keys -> first value


def config_facts(
    benchmark: str,
    preset: str,
    *,
    nodes: int | None = None,
    nproc_per_node: int | None = None,
    ruleset: str | None = None,
    overrides: list[str] | None = None,
    init_section: bool = True,
) -> ConfigFacts:
    """Build the configuration and collect its facts (``init_section=False``: skip the init
    section, which builds the model)."""
    from mlperf_submit.benchmarks.command import build_config
    from mlperf_submit.benchmarks.registry import get_benchmark
    from mlperf_submit.compliance import meta

    bm_cls = get_benchmark(benchmark)
    cfg = build_config(bm_cls, preset, list(overrides or []))
    shape = preset_shape(preset) or (1, 1)
    nodes = shape[0] if nodes is None else nodes
    nproc = shape[1] if nproc_per_node is None else nproc_per_node
    if nodes < 1 or nproc < 1:
        raise UsageError("--nodes and --nproc-per-node must be at least 1")
    ruleset = ruleset or bm_cls.default_ruleset()
    meta.check_ruleset(ruleset)
    if not meta.is_allowed(benchmark, ruleset):
        raise UsageError(
            f"{benchmark} is not a benchmark of ruleset {ruleset}: {meta.where_is(benchmark)}"
        )
    bm = _build(bm_cls, cfg, nodes * nproc, ruleset, preset)
    facts = ConfigFacts(
        benchmark,
        preset,
        ruleset,
        nodes,
        nproc,
        int(bm.global_batch_size()),
        bm_cls.closed_problems(cfg),
        bm_cls.progress_unit,
    )
    try:
        facts.planned_evals = [float(b.end) for b in itertools.islice(bm.blocks(), MAX_BLOCKS)]
    except Exception as err:  # a benchmark whose plan needs its data: say so, go on
        facts.planned_note = (
            f"the configured evaluations are unknown before the data is read ({err})"
        )
    if init_section and not facts.closed_problems:
        facts.init_errors, facts.init_skipped, facts.logged = _init_section(bm_cls, bm, ruleset)
    return facts


def _build(bm_cls, cfg, world: int, ruleset: str, preset: str):
    import torch

    from mlperf_submit.benchmarks.common.interface import RunContext

    ctx = RunContext(
        seed=0,
        rank=0,
        world_size=world,
        device=torch.device("cpu"),
        division="closed",
        ruleset=ruleset,
        preset=preset,
        log_only=True,
    )
    return bm_cls(cfg, ctx)


def _init_section(bm_cls, bm, ruleset: str) -> tuple[list, int, dict]:
    """The init section as ``train --log-only`` writes it, checked offline (closed rules)."""
    from mlperf_submit.benchmarks.common.trainer import SubmissionInfo, Trainer
    from mlperf_submit.compliance.filecheck import check_file
    from mlperf_submit.compliance.init_section import init_section_errors
    from mlperf_submit.compliance.parser import LogLine, iter_file
    from mlperf_submit.logging import MLPerfLogger

    with tempfile.TemporaryDirectory(prefix="mlperf-preflight-") as tmp:
        log = Path(tmp) / "init_section.log"
        logger = MLPerfLogger(bm_cls.name, ruleset, "closed", str(log), check="off", echo=False)
        info = SubmissionInfo(
            org="preflight", platform=f"{bm.ctx.world_size}xpreflight", status="onprem"
        )
        Trainer(bm, logger, submission=info, cache_cleared=True).log_only()
        report = check_file(str(log), ruleset)
        logged: dict = {}
        for item in iter_file(str(log)):
            if type(item) is LogLine and isinstance(item.key, str):
                logged.setdefault(item.key, item.val)
    errors = init_section_errors(report)
    return errors, len(report.errors) - len(errors), logged


def assess_facts(facts: ConfigFacts):
    """The preflight report (``compliance.preflight.assess``) on what ``config_facts`` found."""
    from mlperf_submit.compliance.preflight import assess

    return assess(
        facts.benchmark,
        facts.preset,
        facts.ruleset,
        nodes=facts.nodes,
        nproc_per_node=facts.nproc_per_node,
        global_batch_size=facts.global_batch_size,
        closed_problems=facts.closed_problems,
        init_errors=facts.init_errors,
        planned_unit=facts.progress_unit,
        planned_evals=facts.planned_evals,
        planned_note=facts.planned_note,
        logged=facts.logged,
    )
