"""Hugging Face checkpoint directories: every q/k/v layout pair round-trips, FSDP2 ranks load
only their rows (2 gloo processes), and every damaged checkpoint is an error naming the tensor
and the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from multi_rank import launch_python
from safetensors.torch import load_file, save_file

from mlperf_submit.benchmarks.families.decoder.config import DecoderConfig, GQAConfig, SwiGLUConfig
from mlperf_submit.benchmarks.families.decoder.hf_names import (
    export_llama,
    hf_llama_config,
    llama_sources,
)
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.hf_checkpoint import (
    INDEX,
    Source,
    load_checkpoint,
    read_index,
    save_checkpoint,
)
from mlperf_submit.errors import InputError, UsageError

REPO = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("fsdp_load_worker.py")


def config(fused: bool, dim: int = 48) -> DecoderConfig:
    return DecoderConfig(
        vocab_size=40, dim=dim, n_layers=2, ffn=SwiGLUConfig(hidden_dim=64), max_seq_len=16,
        attention=GQAConfig(n_heads=6, n_kv_heads=2, fused_qkv=fused),
        rope_theta=10000.0, rope_scaling=None,
    )  # fmt: skip


def write(tmp: Path, model: Decoder, *, fused_ckpt: bool, dtype=torch.float32, name="ckpt"):
    cfg = model.cfg
    tensors = export_llama(model, cfg, fused_qkv=fused_ckpt, dtype=dtype)
    dname = {torch.float32: "float32", torch.bfloat16: "bfloat16"}[dtype]
    # small shards: a multi-file checkpoint with an index, as the 70B one
    return save_checkpoint(tmp / name, tensors, hf_llama_config(cfg, dname), max_shard_bytes=8000)


@pytest.fixture(scope="module")
def reference_model() -> Decoder:
    torch.manual_seed(0)
    return Decoder(config(fused=False))


@pytest.mark.parametrize("fused_model", [False, True])
@pytest.mark.parametrize("fused_ckpt", [False, True])
def test_every_qkv_layout_pair_round_trips(tmp_path, reference_model, fused_model, fused_ckpt):
    ckpt = write(tmp_path, reference_model, fused_ckpt=fused_ckpt)
    files = sorted(p.name for p in ckpt.glob("model-*.safetensors"))
    assert len(files) > 2 and files[0] == f"model-00001-of-{len(files):05d}.safetensors"
    names = read_index(ckpt).weight_map
    assert ("model.layers.0.self_attn.qkv_proj.weight" in names) == fused_ckpt
    cfg = config(fused_model)
    model = Decoder(cfg)
    report = load_checkpoint(model, ckpt, llama_sources(cfg, fused_qkv=fused_ckpt))
    assert sorted(report.loaded) == sorted(n for n, _ in model.named_parameters())
    assert report.unused == [] and len(report.files) == len(files)
    tokens = torch.randint(0, 40, (2, 16))
    with torch.no_grad():  # same function: the fused projection is the three, stacked
        assert torch.allclose(model(tokens), reference_model(tokens), atol=1e-5)
    if fused_model:
        wqkv = model.layers[1].attention.wqkv.weight
        ref = reference_model.layers[1].attention
        assert torch.equal(wqkv, torch.cat([ref.wq.weight, ref.wk.weight, ref.wv.weight]))


def test_bf16_checkpoint_loads_into_fp32_parameters(tmp_path, reference_model):
    ckpt = write(tmp_path, reference_model, fused_ckpt=True, dtype=torch.bfloat16)
    assert json.loads((ckpt / "config.json").read_text())["torch_dtype"] == "bfloat16"
    model = Decoder(config(True))
    load_checkpoint(model, ckpt, llama_sources(model.cfg, fused_qkv=True))
    got = model.layers[0].feed_forward.w1.weight
    want = reference_model.layers[0].feed_forward.w1.weight.detach().to(torch.bfloat16)
    assert got.dtype == torch.float32 and torch.equal(got, want.float())


def test_fsdp2_ranks_load_only_their_rows(tmp_path, reference_model):
    """Two gloo processes shard the meta-built decoder with FSDP2 and read the checkpoint into
    their own rows; gathered, the parameters are those of a one-process load (the worker checks
    it). Three layout pairs, one of them with row ranges (q 48, k 16, v 16 into a fused 80-row
    parameter) crossing the two ranks' shard boundary at row 40."""
    cases = [(True, True), (True, False), (False, True)]
    args = []
    for i, (fused_model, fused_ckpt) in enumerate(cases):
        ckpt = write(tmp_path, reference_model, fused_ckpt=fused_ckpt, name=f"ckpt{i}")
        args.append(f"{ckpt}:{int(fused_model)}:{int(fused_ckpt)}")
    results = launch_python(2, WORKER, *args, timeout=300)
    for rank, (rc, out) in enumerate(results):
        assert rc == 0, out[-3000:]
        lines = [ln.split() for ln in out.splitlines() if ln.startswith("OK ")]
        assert [(int(c), int(r)) for _, c, r, _ in lines] == [(c, rank) for c in range(3)]
        for *_, rows in lines:
            held, total = map(int, rows.split("/"))
            assert 0 < held < total


# -- damaged checkpoints --------------------------------------------------------------------------
@pytest.fixture
def good(tmp_path, reference_model) -> Path:
    return write(tmp_path, reference_model, fused_ckpt=True)


def _load(ckpt: Path):
    model = Decoder(config(True))
    return load_checkpoint(model, ckpt, llama_sources(model.cfg, fused_qkv=True))


def _shard_of(ckpt: Path, tensor: str) -> Path:
    return ckpt / read_index(ckpt).weight_map[tensor]


def test_missing_shard_names_the_file(good):
    shard = _shard_of(good, "model.layers.1.self_attn.qkv_proj.weight")
    shard.unlink()
    with pytest.raises(InputError, match=rf"{shard}: shard listed in .*{INDEX} is missing"):
        _load(good)


def test_missing_tensor_names_the_tensor_and_the_index(good):
    index = json.loads((good / INDEX).read_text())
    del index["weight_map"]["model.layers.1.self_attn.qkv_proj.weight"]
    (good / INDEX).write_text(json.dumps(index))
    with pytest.raises(InputError) as err:
        _load(good)
    msg = str(err.value)
    assert msg.startswith(f"{good / INDEX}: the checkpoint has no tensor")
    assert "'model.layers.1.self_attn.qkv_proj.weight'" in msg and "layers.1.attention.wqkv" in msg


def test_tensor_listed_but_absent_from_its_shard(good):
    name = "model.layers.0.mlp.down_proj.weight"
    shard = _shard_of(good, name)
    tensors = load_file(str(shard))
    del tensors[name]
    save_file(tensors, str(shard))
    with pytest.raises(
        InputError, match=rf"{shard}: the index lists '{name}' here but it is absent"
    ):
        _load(good)


def test_wrong_shape_names_tensor_file_and_parameter(tmp_path):
    torch.manual_seed(1)
    wider = Decoder(config(True, dim=60))  # another model size
    ckpt = write(tmp_path, wider, fused_ckpt=True)
    with pytest.raises(InputError) as err:
        _load(ckpt)
    msg = str(err.value)
    assert "has shape [40, 60] but the model's tok_embeddings.weight is [40, 48]" in msg
    assert msg.startswith(str(_shard_of(ckpt, "model.embed_tokens.weight")))


def test_dtype_other_than_config_json_declares(good):
    name = "model.layers.1.mlp.up_proj.weight"
    shard = _shard_of(good, name)
    tensors = load_file(str(shard))
    tensors[name] = tensors[name].to(torch.float16)
    save_file(tensors, str(shard))
    with pytest.raises(InputError, match=rf"{shard}: tensor '{name}' is F16, but config.json"):
        _load(good)


def test_garbled_shard_and_index(good):
    shard = _shard_of(good, "model.norm.weight")
    shard.write_bytes(b"\x00garbage" * 8)
    with pytest.raises(InputError, match=rf"{shard}: not a safetensors file"):
        _load(good)
    (good / INDEX).write_text("{not json")
    with pytest.raises(InputError, match=rf"{good / INDEX}: not readable JSON"):
        _load(good)


def test_not_a_checkpoint_directory(tmp_path):
    with pytest.raises(InputError, match="neither model.safetensors.index.json nor"):
        read_index(tmp_path)
    with pytest.raises(InputError, match="not a checkpoint directory"):
        read_index(tmp_path / "absent")


def test_save_refuses_to_overwrite(good, reference_model):
    with pytest.raises(UsageError, match="already holds a checkpoint"):
        write(good.parent, reference_model, fused_ckpt=True, name=good.name)


def test_sources_must_tile_the_parameter_rows(good):
    model = Decoder(config(True))
    sources = llama_sources(model.cfg, fused_qkv=False)  # q/k/v into the fused rows ...
    parts = sources["layers.0.attention.wqkv.weight"]
    sources["layers.0.attention.wqkv.weight"] = parts[:2]  # ... without v's rows
    with pytest.raises(UsageError, match=r"fill rows \[\(0, 48\), \(48, 64\)\], not \[0, 80\)"):
        load_checkpoint(model, good, sources)
    whole = {"layers.0.attention.wqkv.weight": Source("model.layers.0.self_attn.qkv_proj.weight")}
    assert load_checkpoint(model, good, whole).loaded == ["layers.0.attention.wqkv.weight"]
