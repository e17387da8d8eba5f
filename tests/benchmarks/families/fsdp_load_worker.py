"""One rank of ``test_hf_checkpoint.py``'s FSDP2 test (run as a script, gloo, 2 processes).

    RANK=r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=p \
        python fsdp_load_worker.py CKPT:FUSED_MODEL:FUSED_CKPT ...

For each case: builds the decoder on the meta device, shards every block and the root with
FSDP2, allocates the local shards and loads the checkpoint; then checks that each rank holds
only its own rows and that, gathered, they are the model a one-process load gives. Prints
``OK <case> <rank> <local rows>/<global rows>`` per case.
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor

from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig, GQAConfig, SwiGLUConfig
from mlperf_submit.benchmarks.families.decoder.hf_names import export_llama, llama_sources
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.hf_checkpoint import load_checkpoint, read_index


def config(fused: bool) -> DecoderConfig:
    # q 48 rows, k 16, v 16: two ranks split the fused 80 rows at 40, inside q
    return DecoderConfig(
        vocab_size=40, dim=48, n_layers=2, ffn=SwiGLUConfig(hidden_dim=64), max_seq_len=16,
        attention=GQAConfig(n_heads=6, n_kv_heads=2, fused_qkv=fused),
        rope_theta=10000.0, rope_scaling=None,
    )  # fmt: skip


def check(ckpt: str, fused_model: bool, fused_ckpt: bool) -> tuple[int, int]:
    cfg = config(fused_model)
    with torch.device("meta"):
        model = Decoder(cfg)
    for block in model.layers:
        fully_shard(block)
    fully_shard(model)
    model.to_empty(device="cpu")
    load_checkpoint(model, ckpt, llama_sources(cfg, fused_qkv=fused_ckpt))
    index = read_index(ckpt)
    tensors = {}
    for shard in sorted(set(index.weight_map.values())):
        tensors.update(load_file(str(index.directory / shard)))
    # The model as one process would hold it, from the same checkpoint, as the reference.
    whole = Decoder(cfg)
    load_checkpoint(whole, ckpt, llama_sources(cfg, fused_qkv=fused_ckpt))
    expected = dict(whole.named_parameters())
    local_rows = global_rows = 0
    for name, p in model.named_parameters():
        assert isinstance(p, DTensor), name
        local = p.to_local()
        full = p.full_tensor()
        assert torch.equal(full, expected[name].detach()), name
        local_rows += local.shape[0]
        global_rows += p.shape[0]
    assert local_rows < global_rows  # each rank holds a part
    # export_llama of the gathered model gives back the checkpoint's tensors
    gathered = Decoder(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            dict(gathered.named_parameters())[name].copy_(p.full_tensor())
    again = export_llama(gathered, cfg, fused_qkv=fused_ckpt, dtype=torch.float32)
    assert again.keys() == tensors.keys()
    assert all(torch.equal(again[k], tensors[k]) for k in tensors)
    return local_rows, global_rows


def main() -> int:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    for case, spec in enumerate(sys.argv[1:]):
        ckpt, fused_model, fused_ckpt = spec.rsplit(":", 2)
        held, total = check(ckpt, fused_model == "1", fused_ckpt == "1")
        print(f"OK {case} {rank} {held}/{total}", flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
