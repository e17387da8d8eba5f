"""One rank of the expert-parallel equivalence test (tests/benchmarks/families/test_moe.py).

Run as 2 processes with RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT set. Every rank builds
the same reference decoder (all experts, one process's view) and an expert-parallel copy
(``expert_parallel=2``, half the experts each) with the same weights, wraps the copy in DDP the
way the Trainer does, takes one clipped AdamW step on its half of a batch, and compares with the
reference stepping on the whole batch. Prints ``RESULT <json>``.
"""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist

from mlperf_submit.benchmarks.common.optim import add_grad_clipping
from mlperf_submit.benchmarks.families.decoder import moe_parallel
from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig, GQAConfig
from mlperf_submit.benchmarks.families.decoder.model import Decoder, next_token_loss
from mlperf_submit.benchmarks.families.decoder.moe_config import MoEConfig


def model_cfg(ep: int, score: str) -> DecoderConfig:
    extra = (
        dict(score="sigmoid", norm_topk=True, route_scale=2.5, n_groups=2, topk_groups=1,
             n_shared_experts=1, expert_bias=True, balance="seq_aux_loss", aux_loss_coeff=0.01)
        if score == "sigmoid" else {}
    )  # fmt: skip
    ffn = MoEConfig(n_experts=4, top_k=2, expert_hidden=24, expert_parallel=ep, **extra)
    return DecoderConfig(vocab_size=64, dim=16, n_layers=2, max_seq_len=16,
                         attention=GQAConfig(n_heads=2, n_kv_heads=1), ffn=ffn)  # fmt: skip


def copy_weights(ref: Decoder, ep_model: Decoder) -> None:
    theirs = ref.state_dict()
    with torch.no_grad():
        for name, p in ep_model.state_dict().items():
            src = theirs[name]
            if ".experts.w" in name:
                first = ep_model.get_submodule(name.rsplit(".", 1)[0]).first
                src = src[first : first + p.shape[0]]
            p.copy_(src)


def main() -> int:
    dist.init_process_group("gloo")
    for score in sys.argv[1:]:
        compare(score)
    dist.destroy_process_group()
    return 0


def compare(score: str) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    ref = Decoder(model_cfg(1, score))
    torch.manual_seed(1)
    ep_model = Decoder(model_cfg(2, score))
    copy_weights(ref, ep_model)
    moe_parallel.prepare_expert_parallel(ep_model)
    ddp = torch.nn.parallel.DistributedDataParallel(ep_model)
    tokens = torch.randint(0, 64, (2 * world, 13), generator=torch.Generator().manual_seed(5))
    mine = tokens[2 * rank : 2 * rank + 2]

    opt_ref = torch.optim.AdamW(ref.parameters(), lr=1e-2)
    add_grad_clipping(opt_ref, 0.05)
    moe_parallel.attach_expert_bias_update(opt_ref, ref)
    opt_ep = torch.optim.AdamW(ep_model.parameters(), lr=1e-2)
    moe_parallel.add_expert_parallel_clipping(opt_ep, ep_model, 0.05)
    moe_parallel.attach_expert_bias_update(opt_ep, ep_model)

    # Forward: each rank's half through the expert-parallel model equals the reference.
    logits = ddp(mine[:, :-1])
    out_diff = (logits - ref(mine[:, :-1])).abs().max().item()
    loss = next_token_loss(logits, mine[:, 1:])
    aux = ep_model.aux_loss()
    (loss if aux is None else loss + aux).backward()
    opt_ep.step()

    # Reference: the mean of the ranks' losses (equal halves), on one process.
    ref_loss = 0.0
    for r in range(world):
        part = tokens[2 * r : 2 * r + 2]
        lr_ = next_token_loss(ref(part[:, :-1]), part[:, 1:])
        a = ref.aux_loss()
        ref_loss = ref_loss + (lr_ if a is None else lr_ + a) / world
    ref_loss.backward()
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in ref.parameters() if p.grad is not None))
    before = [p.detach().clone() for p in ref.parameters()]
    opt_ref.step()

    after = ref.state_dict()
    param_diff = 0.0
    for name, p in ep_model.state_dict().items():
        want = after[name]
        if ".experts.w" in name:
            first = ep_model.get_submodule(name.rsplit(".", 1)[0]).first
            want = want[first : first + p.shape[0]]
        param_diff = max(param_diff, (p - want).abs().max().item())
    moved = max((p - q).abs().max().item() for p, q in zip(ref.parameters(), before))
    result = {"rank": rank, "out": out_diff, "param": param_diff, "moved": moved,
              "grad_norm": float(norm)}  # fmt: skip
    print("RESULT " + json.dumps({"score": score, **result}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
