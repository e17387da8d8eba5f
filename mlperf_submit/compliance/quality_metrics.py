"""What ``eval_accuracy`` measures in each official training benchmark, for people reading a plot.

The rule files say only which bound ``eval_accuracy`` must cross; this is the meaning the
MLPerf rules give it. A benchmark built here says the same through its class's ``metric_label``
(the contract test checks they agree); this table also labels published results of benchmarks
that are not built here (bert, gpt3 ...), which ``report`` plots from the corpus.
"""

from __future__ import annotations

QUALITY_METRICS = {
    "resnet": "top-1 accuracy",
    "bert": "masked-LM accuracy",
    "unet3d": "mean DICE",
    "ssd": "mAP",
    "retinanet": "mAP",
    "maskrcnn": "box / mask mAP",
    "rnnt": "word error rate",
    "gnn": "accuracy",
    "rgat": "accuracy",
    "stable_diffusion": "FID / CLIP score",
    "dlrm_dcnv2": "AUC",
    "dlrmv4": "AUC",
    "gpt3": "log-perplexity",
    "llama31_8b": "log-perplexity",
    "llama31_405b": "log-perplexity",
    "gpt_oss_20b": "log-perplexity",
    "deepseekv3_671b": "log-perplexity",
    "llama2_70b_lora": "eval loss",
    "flux1": "validation loss",
}


def quality_metric(benchmark: str) -> str | None:
    return QUALITY_METRICS.get(benchmark)
