"""README.md of an implementation folder, following the MLCommons reference README template.

The reference template (training_rules.adoc, "A plain text README.md") has four parts:
1. Problem, 2. Directions (configure the machine, download and verify data, run and time),
3. Dataset (attribution, preprocessing, train/test separation, data order), 4. Model
(attribution, layers, initialisation, loss, optimizer), 5. Quality (metric, target, evaluation
frequency and thoroughness). We fill it from a short description per benchmark (below), the
preset that ran and the exact commands recorded in the campaign manifest. The text about the
benchmark is the ``docs`` of its Benchmark class (``benchmarks/<name>/docs.py``); the quality
target is the one the official rule file of the submission's ruleset enforces.

Used by :mod:`mlperf_submit.submission.implementation`; pure text, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc
from mlperf_submit.compliance.targets import closed_target


def _generic_doc(benchmark: str, description: str) -> BenchmarkDoc:
    text = description.strip() or f"MLPerf Training benchmark {benchmark}."
    unknown = "See the code in this folder."
    return BenchmarkDoc(
        title=f"MLPerf Training: {benchmark}",
        problem=text,
        dataset=unknown,
        preprocessing=unknown,
        data_order=unknown,
        model=unknown,
        layers=unknown,
        init=unknown,
        loss=unknown,
        optimizer=unknown,
        metric="eval_accuracy as defined by the closed rules of the benchmark.",
        eval_frequency=unknown,
        eval_thoroughness=unknown,
    )


@dataclass(frozen=True)
class RunInfo:
    """What ran, for the Directions section."""

    benchmark: str
    ruleset: str
    division: str
    preset: str
    system: str
    impl: str
    commands: tuple[str, ...]  # exact command lines of the chosen runs (from the manifest)
    campaign_command: str  # how the campaign was started, if recorded
    data_kind: str  # "synthetic" | "real" | "unknown"
    selection: str  # which runs were chosen and why
    code_version: str  # "mlperf-submit 0.1.0 (git abc123)"
    config_file: str  # name of the config file in this folder


def benchmark_doc(benchmark: str, description: str = "") -> BenchmarkDoc:
    """The registered benchmark's own ``docs``, or a generic text for one not built here."""
    from mlperf_submit.benchmarks.registry import describe

    cls = describe(benchmark)
    return cls.docs if cls is not None else _generic_doc(benchmark, description)


def target_text(benchmark: str, ruleset: str) -> str:
    target = closed_target(benchmark, ruleset)
    if target is None:
        return f"The closed-division target of ruleset {ruleset} (no single value in its rules)."
    way = ">=" if target.higher_is_better else "<="
    return (
        f"eval_accuracy {way} {target.value:g} (closed division, ruleset {ruleset}: "
        f"{target.source} of mlperf-logging)."
    )


def render_readme(info: RunInfo, description: str = "") -> str:
    doc = benchmark_doc(info.benchmark, description)
    dry = info.data_kind == "synthetic"
    lines = [f"# {doc.title}", ""]
    lines += [
        f"Implementation `{info.impl}` of the MLPerf Training benchmark `{info.benchmark}` "
        f"(ruleset {info.ruleset}, {info.division} division) on system `{info.system}`, "
        f"built with {info.code_version}.",
        "",
    ]
    if dry:
        lines += [
            "> **DRY RUN — synthetic data.** The results in this tree were produced on "
            "synthetic data written in the real on-disk format, with the "
            f"`{info.preset}` preset. They exercise the submission pipeline; they are not a "
            "measurement of this system on the real dataset and must not be submitted as one.",
            "",
        ]
    lines += ["## 1. Problem", "", doc.problem, ""]
    lines += ["## 2. Directions", "", "### Steps to configure machine", ""]
    lines += [
        "```bash",
        "pip install torch==2.13.0          # or the CUDA build your site uses",
        "pip install -e '.[train,dali,mpi]' # from the snapshot in this folder (setup.py)",
        "```",
        "",
        "### Steps to download and verify data",
        "",
    ]
    if dry:
        lines += [
            "The runs used synthetic data; `mlperf-submit train ... --synthetic DIR` writes it "
            "(deterministically from the seed) before the run.",
            "",
        ]
    else:
        lines += ["Place the dataset as described in section 3 and pass `--data DIR`.", ""]
    lines += [
        "### Steps to run and time",
        "",
        f"`run_and_time.sh` runs one seeded run with the `{info.preset}` preset and prints "
        "the MLPerf log; the config in effect is in "
        f"`{info.config_file}`. The exact commands of the submitted runs were:",
        "",
        "```bash",
        *(info.commands or ("(not recorded)",)),
        "```",
        "",
    ]
    if info.campaign_command:
        lines += ["The campaign was started with:", "", "```bash", info.campaign_command, "```", ""]
    lines += [f"Runs submitted: {info.selection}.", ""]
    lines += [
        "## 3. Dataset/Environment",
        "",
        f"### Publication/Attribution\n\n{doc.dataset}",
        "",
        f"### Data preprocessing\n\n{doc.preprocessing}",
        "",
        "### Training and test data separation\n\nAs in the reference: the official "
        "training and validation splits.",
        "",
        f"### Training data order\n\n{doc.data_order}",
        "",
        "## 4. Model",
        "",
        f"### Publication/Attribution\n\n{doc.model}"
        + ("\n\n" + "; ".join(doc.references) if doc.references else ""),
        "",
        f"### List of layers\n\n{doc.layers}",
        "",
        f"### Weight and bias initialization\n\n{doc.init}",
        "",
        f"### Loss function\n\n{doc.loss}",
        "",
        f"### Optimizer\n\n{doc.optimizer}",
        "",
        "## 5. Quality",
        "",
        f"### Quality metric\n\n{doc.metric}",
        "",
        f"### Quality target\n\n{target_text(info.benchmark, info.ruleset)}"
        + (
            f" The `{info.preset}` preset used here stops at its own, easier target on "
            "synthetic data."
            if dry
            else ""
        ),
        "",
        f"### Evaluation frequency\n\n{doc.eval_frequency}",
        "",
        f"### Evaluation thoroughness\n\n{doc.eval_thoroughness}",
        "",
    ]
    return "\n".join(lines)
