"""The yardsticks the GPU benchmarks print (issue 17, item 9): the datasheet peak by device
name, and the published llama31_8b per-GPU throughput, recomputed here from the real v5.1
result log it cites (the corpus is a byte-identical copy of mlcommons/training_results_v5.1)."""

from __future__ import annotations

import json

import pytest

from mlperf_submit.benchmarks.common import throughput
from mlperf_submit.benchmarks.families.decoder.flops import training_flops_per_token
from mlperf_submit.benchmarks.llama31_8b.config import CLOSED
from mlperf_submit.errors import InputError


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H200", 989.0),
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H200 NVL", 835.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA GeForce RTX 4090", None),
    ],
)
def test_datasheet_peak_by_device_name(name, tflops):
    peak = throughput.datasheet_bf16_peak(name)
    assert peak == (None if tflops is None else tflops * 1e12)


def test_published_llama31_8b_figure_is_what_its_log_implies(corpus_dir):
    ref = throughput.LLAMA31_8B_PUBLISHED
    log = corpus_dir / ref.source
    system = json.loads(
        (log.parents[2].parent / "systems" / f"{log.parents[1].name}.json").read_text()
    )
    gpus = int(system["number_of_nodes"]) * int(system["accelerators_per_node"])
    assert gpus == ref.gpus == 64
    assert "H200" in system["accelerator_model_name"]
    derived = throughput.run_tokens_per_gpu_s(log, gpus)
    assert derived == pytest.approx(ref.tokens_per_gpu_s, abs=1.0)
    # every run of that result directory implies the same figure (within 0.1 %)
    for other in log.parent.glob("result_*.txt"):
        assert throughput.run_tokens_per_gpu_s(other, gpus) == pytest.approx(derived, rel=1e-3)
    # ~0.58 of the H200's datasheet bf16 peak in model FLOPs: the bar a GPU run is held to
    mfu = derived * training_flops_per_token(CLOSED.model, 8192) / 989e12
    assert 0.5 < mfu < 0.65


def test_a_log_without_a_run_is_an_input_error(tmp_path):
    log = tmp_path / "x.txt"
    log.write_text(':::MLLOG {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", '
                   '"key": "init_start", "value": null, "metadata": {}}\n')  # fmt: skip
    with pytest.raises(InputError, match="no run_start, run_stop"):
        throughput.run_tokens_per_gpu_s(log, 8)
