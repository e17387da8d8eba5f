"""The LoRA model: the 70B shape and its adapters on the meta device, peft's adapters on the fused
QKV projection, the base frozen and unchanged by a run, the schedule against transformers, and a
damaged base checkpoint as a clear exit-2 error."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.hf_checkpoint import INDEX, read_index
from mlperf_submit.benchmarks.llama2_70b_lora import model as lora_model
from mlperf_submit.benchmarks.llama2_70b_lora.benchmark import Llama2LoRABenchmark
from mlperf_submit.benchmarks.llama2_70b_lora.config import LLAMA2_70B, PRESETS, tiny
from mlperf_submit.benchmarks.llama2_70b_lora.optim import HFCosineLR
from mlperf_submit.logging import MLPerfLogger

# Llama-2-70b-hf: 68,976,648,192 parameters (transformers counts the same tensors); the
# reference's print_trainable_parameters: 44,564,480 trainable (r 16 on qkv_proj and o_proj).
LLAMA2_70B_PARAMS = 68_976_648_192
LLAMA2_70B_ADAPTER_PARAMS = 80 * (16 * 8192 + (8192 + 2 * 1024) * 16 + 16 * 8192 + 8192 * 16)


def test_70b_shape_and_adapters_on_the_meta_device():
    cfg = PRESETS["config_DGXH200_1x8x1"]()
    assert cfg.model == LLAMA2_70B
    model = lora_model.build(cfg, torch.bfloat16)
    base = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    adapters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"Llama 2 70B: {base:,} base parameters + {adapters:,} LoRA parameters (r 16)")
    assert base == LLAMA2_70B_PARAMS
    assert adapters == LLAMA2_70B_ADAPTER_PARAMS == 44_564_480
    assert all(p.is_meta for p in model.parameters())
    dtypes = {p.dtype for p in model.parameters() if not p.requires_grad}
    assert dtypes == {torch.bfloat16}
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    attn = model.layers[0].attention
    assert attn.qkv_sizes == (8192, 1024, 1024) and attn.head_dim == 128
    assert model.cfg.rope_scaling is None and model.cfg.rope_theta == 10000.0


def _tiny_model(checkpoint=None):
    cfg = tiny()
    model = lora_model.build(cfg, torch.float32)
    lora_model.materialize(model, cfg, torch.device("cpu"), checkpoint)
    return cfg, model


def test_peft_wraps_the_fused_qkv_and_the_output_projection_only():
    from peft.tuners.lora import LoraLayer

    torch.manual_seed(0)
    cfg, model = _tiny_model()
    wrapped = sorted(n for n, m in model.named_modules() if isinstance(m, LoraLayer))
    assert wrapped == [f"layers.{i}.attention.{p}" for i in range(2) for p in ("wo", "wqkv")]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    # One adapter on the fused projection: A [r, dim] shared by q, k and v, B [q+k+v, r]. Three
    # adapters on three projections would be another model (3 A's, each with its own input map).
    qkv = model.layers[0].attention.wqkv
    assert qkv.lora_A["default"].weight.shape == (16, 64)
    assert qkv.lora_B["default"].weight.shape == (64 + 2 * 2 * 16, 16)
    assert lora_model.lora_values(lora_model.adapter_layers(model)) == {
        "rank": 16, "alpha": 32, "dropout": 0.1,
    }  # fmt: skip


def test_adapter_output_is_base_plus_scaled_low_rank_update():
    torch.manual_seed(0)
    cfg, model = _tiny_model()
    layer = model.layers[1].attention.wo
    with torch.no_grad():
        layer.lora_B["default"].weight.normal_()
    model.eval()  # no dropout
    x = torch.randn(3, 64)
    a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    expected = layer.base_layer(x) + (x @ a.T @ b.T) * (32 / 16)
    assert torch.allclose(layer(x), expected, atol=1e-5)


def test_adapters_start_as_peft_initialises_them():
    """Our whole-matrix init (the same for any FSDP2 sharding) is peft's: same RNG state, same
    A (Kaiming-uniform, a = sqrt 5), B zero -- so the adapted model starts as the base model."""
    cfg = tiny()
    ours = lora_model.build(cfg, torch.float32)
    theirs = lora_model.build(cfg, torch.float32)
    for m in (ours, theirs):
        m.to_empty(device="cpu")
    torch.manual_seed(3)
    lora_model.init_adapters(lora_model.adapter_layers(ours))
    torch.manual_seed(3)
    for layer in lora_model.adapter_layers(theirs):
        layer.reset_lora_parameters("default", True)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        if p.requires_grad:
            assert torch.equal(p, q), n
            if ".lora_B." in n:
                assert not p.any()


def test_base_weights_are_the_checkpoint_and_frozen(tiny_bm):
    torch.manual_seed(0)
    cfg, model = _tiny_model(tiny_bm.checkpoint_dir())
    ckpt = tiny_bm.checkpoint_dir()
    index = read_index(ckpt)
    assert index.dtype == torch.bfloat16
    qkv = "model.layers.1.self_attn.qkv_proj.weight"
    stored = load_file(str(ckpt / index.weight_map[qkv]))[qkv]
    got = model.layers[1].attention.wqkv.base_layer.weight
    assert not got.requires_grad and torch.equal(got, stored.float())
    # B = 0: the adapted model computes exactly the base model (a plain decoder, same weights).
    plain = Decoder(cfg.model)
    from mlperf_submit.benchmarks.families.decoder.hf_names import llama_sources
    from mlperf_submit.benchmarks.families.hf_checkpoint import load_checkpoint

    load_checkpoint(plain, ckpt, llama_sources(cfg.model, fused_qkv=True))
    tokens = torch.randint(0, 64, (2, 32))
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(tokens), plain(tokens), atol=1e-6)


def test_only_adapter_parameters_change_in_a_run(tiny_bm, tmp_path):
    """A whole tiny run (to its target): every base weight is still the checkpoint's, every
    adapter moved; the optimizer held nothing else."""
    bm = Llama2LoRABenchmark(tiny_bm.cfg, tiny_bm.ctx)
    logger = MLPerfLogger("llama2_70b_lora", "6.1.0", "open", str(tmp_path / "run.log"),
                          check="off", echo=False)  # fmt: skip
    trainer = Trainer(bm, logger)
    result = trainer.train()
    logger.close()
    assert result.converged, result.evals
    opt_params = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    fresh = lora_model.build(bm.cfg, torch.float32)
    torch.manual_seed(0)
    lora_model.materialize(fresh, bm.cfg, torch.device("cpu"), bm.checkpoint_dir())
    before = dict(fresh.named_parameters())
    changed = []
    for name, p in trainer.model.named_parameters():
        if p.requires_grad:
            assert id(p) in opt_params
            if not torch.equal(p, before[name]):
                changed.append(name)
        else:
            assert id(p) not in opt_params and p.grad is None
            assert torch.equal(p, before[name]), f"base weight {name} changed"
    assert len(changed) == sum(p.requires_grad for p in fresh.parameters())


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.03])
def test_schedule_is_transformers_cosine_with_warmup(ratio):
    from transformers import get_cosine_schedule_with_warmup

    def lrs(make):
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=4e-4)
        sched = make(opt)
        out = []
        for _ in range(120):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out, sched

    ours, sched = lrs(lambda o: HFCosineLR(o, max_steps=100, warmup_ratio=ratio))
    theirs, _ = lrs(lambda o: get_cosine_schedule_with_warmup(o, math.ceil(ratio * 100), 100))
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert sched.warmup_steps == math.ceil(ratio * 100) and sched.max_steps == 100
    assert ours[0] == (4e-4 if ratio == 0 else 0.0) and ours[100] == 0.0


def test_missing_tensor_in_the_base_checkpoint_is_a_clear_error(tiny_bm, tmp_path, train_cli):
    damaged = tmp_path / "base"
    shutil.copytree(tiny_bm.checkpoint_dir(), damaged)
    name = "model.layers.1.self_attn.o_proj.weight"
    index = json.loads((damaged / INDEX).read_text())
    shard = damaged / index["weight_map"].pop(name)
    (damaged / INDEX).write_text(json.dumps(index))
    tensors = load_file(str(shard))
    del tensors[name]
    save_file(tensors, str(shard), metadata={"format": "pt"})
    rc, out, err = train_cli(
        "llama2_70b_lora", "--preset", "tiny", "--seed", 1, "--log", tmp_path / "run.log",
        "--synthetic", tiny_bm.ctx.data_dir, f"checkpoint={damaged}",
    )  # fmt: skip
    assert rc == 2, err
    assert "Traceback" not in err
    assert f"{damaged / INDEX}: the checkpoint has no tensor '{name}'" in err
    assert "layers.1.attention.wo.base_layer.weight" in err


def test_bf16_base_needs_a_gpu():
    from mlperf_submit.errors import UsageError

    cfg = apply_overrides(tiny(), ["base_dtype=bf16"])
    with pytest.raises(UsageError, match="base_dtype=bf16 needs a GPU"):
        Llama2LoRABenchmark(cfg, RunContext(seed=0))
