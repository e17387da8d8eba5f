"""README.md of an implementation folder, following the MLCommons reference README template.

The reference template (training_rules.adoc, "A plain text README.md") has four parts:
1. Problem, 2. Directions (configure the machine, download and verify data, run and time),
3. Dataset (attribution, preprocessing, train/test separation, data order), 4. Model
(attribution, layers, initialisation, loss, optimizer), 5. Quality (metric, target, evaluation
frequency and thoroughness). We fill it from a short description per benchmark (below), the
preset that ran and the exact commands recorded in the campaign manifest.

Used by :mod:`mlperf_submit.submission.implementation`; pure text, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BenchmarkDoc:
    title: str
    problem: str
    dataset: str
    preprocessing: str
    data_order: str
    model: str
    layers: str
    init: str
    loss: str
    optimizer: str
    metric: str
    target: str
    eval_frequency: str
    eval_thoroughness: str
    references: tuple[str, ...] = field(default_factory=tuple)


DOCS: dict[str, BenchmarkDoc] = {
    "resnet": BenchmarkDoc(
        title="Image classification: ResNet-50 v1.5 on ImageNet",
        problem="Classify 224x224 RGB images into the 1,000 ImageNet classes.",
        dataset="ImageNet (ILSVRC 2012): 1,281,167 training and 50,000 validation JPEGs in the "
        "folder layout train/<wnid>/*.JPEG, val/<wnid>/*.JPEG.",
        preprocessing="Training: decode, random-resized crop to 224, random horizontal flip, "
        "per-channel mean/std normalisation. Evaluation: resize to 256, center crop 224, "
        "normalisation. Primary pipeline NVIDIA DALI; a torch DataLoader + PIL fallback applies "
        "the same transforms.",
        data_order="Training data reshuffled every epoch from the run seed and sharded by rank; "
        "the validation set is read in a fixed order, each image exactly once per evaluation.",
        model="ResNet-50 v1.5 (stride 2 in the 3x3 convolution of the bottleneck), written in "
        "this package without torchvision.",
        layers="7x7 conv stem, max-pool, 4 stages of bottleneck blocks (3, 4, 6, 3) with "
        "widths 256, 512, 1024, 2048, global average pool, 1000-way fully connected layer.",
        init="Kaiming-normal convolutions, batch-norm gamma 1 (0 for the last BN of each "
        "residual branch) and beta 0, fully connected layer as in the reference.",
        loss="Cross entropy with label smoothing 0.1.",
        optimizer="LARS (polynomial decay power 2, end learning rate 0.0001, epsilon 0, linear "
        "warm-up epochs) or SGD with momentum; the logged hyperparameters are read back from "
        "the optimizer in effect.",
        metric="Top-1 accuracy on the validation set (eval_accuracy).",
        target="0.759 top-1 accuracy (closed division, ruleset 4.0.0).",
        eval_frequency="Every 4 epochs, with a configurable offset of 0-3 epochs.",
        eval_thoroughness="The whole validation set (50,000 images) at every evaluation.",
        references=("He et al., Deep Residual Learning for Image Recognition, CVPR 2016",),
    ),
    "llama31_8b": BenchmarkDoc(
        title="LLM pre-training: Llama 3.1 8B",
        problem="Causal language-model pre-training of Llama 3.1 8B to a target validation "
        "log-perplexity.",
        dataset="Tokenised C4 in the Megatron/NeMo indexed format (.bin + .idx, MMIDIDX header) "
        "with sequences of 8,192 tokens and a fixed validation set.",
        preprocessing="None at run time beyond reading fixed-length token sequences from the "
        "memory-mapped indexed dataset.",
        data_order="A deterministic permutation of the training sequences from the run seed, "
        "sharded by rank; validation sequences in a fixed order.",
        model="Llama 3.1 8B written in this package: RMSNorm, rotary embeddings with the "
        "llama3 frequency scaling, grouped-query attention, SwiGLU, untied embeddings.",
        layers="Token embedding (vocabulary 128,256), 32 decoder layers (hidden 4,096, 32 heads, "
        "8 KV heads, FFN 14,336), final RMSNorm, output projection.",
        init="Normal(0, 0.02) for linear and embedding weights, RMSNorm weights 1.",
        loss="Next-token cross entropy.",
        optimizer="AdamW (beta1 0.9, beta2 0.95, epsilon 1e-5, weight decay 0.1), gradient "
        "clipping at norm 1.0, cosine schedule with linear warm-up.",
        metric="Validation log-perplexity (eval_accuracy), lower is better.",
        target="3.3 log-perplexity (closed division, rulesets 5.1.0-6.1.0).",
        eval_frequency="Every 12,288 sequences, rounded up to a multiple of the global batch.",
        eval_thoroughness="1,024 validation sequences (eval_samples) per evaluation.",
        references=("Llama Team, The Llama 3 Herd of Models, 2024",),
    ),
}


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
        target="The closed-division target of the ruleset.",
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


def render_readme(info: RunInfo, description: str = "") -> str:
    doc = DOCS.get(info.benchmark) or _generic_doc(info.benchmark, description)
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
        f"### Quality target\n\n{doc.target}"
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
