"""What a benchmark says about itself in a submission's README (the MLCommons template).

The reference README template (training_rules.adoc, "A plain text README.md") asks for the
problem, the dataset (attribution, preprocessing, data order), the model (attribution, layers,
initialisation, loss, optimizer) and the quality (metric, evaluation frequency and
thoroughness). Each benchmark class sets ``docs = BenchmarkDoc(...)``; the quality *target* is
not written here: the README reads it from the official rule file of the submission's ruleset,
so it cannot drift from what the checker enforces.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BenchmarkDoc:
    title: str
    """One line, e.g. "Image classification: ResNet-50 v1.5 on ImageNet"."""
    problem: str
    dataset: str
    """Publication / attribution of the dataset and its on-disk layout."""
    preprocessing: str
    data_order: str
    model: str
    """Publication / attribution of the model as implemented here."""
    layers: str
    init: str
    loss: str
    optimizer: str
    metric: str
    """What ``eval_accuracy`` measures and its direction."""
    eval_frequency: str
    eval_thoroughness: str
    references: tuple[str, ...] = field(default_factory=tuple)

    def validate(self, name: str) -> list[str]:
        """Empty fields, as problems naming the benchmark (the contract test asserts none)."""
        return [
            f"{name}: docs.{f} is empty"
            for f, v in vars(self).items()
            if isinstance(v, str) and not v.strip()
        ]
