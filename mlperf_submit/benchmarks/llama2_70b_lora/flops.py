"""Model FLOPs of a LoRA fine-tuning step, for model FLOP utilisation (MFU).

Pretraining counts 6 FLOPs per weight and token (``families/decoder/flops.py``: 2 forward, 2
for the activation gradient, 2 for the weight gradient). With a frozen base the last term is
gone for every base weight -- no weight gradient is computed -- while the activation gradients
still flow through every layer to reach the adapters below it::

    per token: 4 * N_base + 6 * N_adapter + 3 * attention score FLOPs
    N_adapter = sum over adapted Linears of r * (in + out)      (A: in -> r, B: r -> out)

Recomputation (activation checkpointing) and the optimizer are not model FLOPs. The count errs
high by the first layer's input gradient (not needed, counted) -- about 1/80 of the 70B total.
"""

from __future__ import annotations

from torch import nn

from mlperf_submit.benchmarks.families.decoder.flops import matmul_params


def adapter_matmul_params(model: nn.Module) -> int:
    """Weights of the adapters that multiply a token's activations: r * (in + out) each."""
    from mlperf_submit.benchmarks.llama2_70b_lora.model import adapter_layers

    total = 0
    for layer in adapter_layers(model):
        base = layer.get_base_layer()
        r = layer.r["default"]
        total += r * (base.in_features + base.out_features)
    return total


def lora_training_flops_per_token(model: nn.Module, seq_len: int) -> float:
    cfg = model.cfg
    scores = sum(
        cfg.attention.score_flops_per_token(cfg.dim, seq_len, layer)
        for layer in range(cfg.n_layers)
    )
    return 4.0 * matmul_params(cfg) + 6.0 * adapter_matmul_params(model) + 3.0 * scores
