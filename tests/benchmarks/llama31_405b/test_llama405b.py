"""llama31_405b: the 405B shape, the closed schedule as the YAML's functions of the global
batch, the RCP points, and continued pretraining from a Hugging Face checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from mlperf_logging import compliance_checker, rcp_checker

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.hf_checkpoint import INDEX
from mlperf_submit.benchmarks.llama31_405b.benchmark import Llama31_405BBenchmark as Bm
from mlperf_submit.benchmarks.llama31_405b.config import PRESETS, closed_optim, tiny
from mlperf_submit.errors import InputError, UsageError

CHECKER = Path(compliance_checker.__file__).parent
RCPS = Path(rcp_checker.__file__).parent


def test_405b_shape_has_405_9_billion_parameters():
    cfg = PRESETS["config_DGXH100_144x8x1"]().model
    with torch.device("meta"):
        model = Decoder(cfg)
    d, f, v, hd = 16384, 53248, 128256, 128
    layer = d * 128 * hd * 2 + d * 8 * hd * 2 + 3 * d * f + 2 * d
    assert model.num_params() == 126 * layer + 2 * v * d + d == 405_853_388_800


def _closed_checks(ruleset: str) -> dict[str, str]:
    rules = yaml.safe_load((CHECKER / f"training_{ruleset}/closed_llama31_405b.yaml").read_text())
    out = {}
    for rule in rules:
        key = rule["KEY"]
        for field in ("CHECK", "POST"):
            if field in key:
                out[f"{key['NAME']}.{field}"] = key[field]
    return out


@pytest.mark.parametrize("gbs", [1008, 1152, 1536, 2304, 3072, 4608, 6912, 9216])
def test_closed_schedule_satisfies_the_yaml_formulas(gbs):
    """The CHECK/POST expressions of closed_llama31_405b.yaml (6.0.0), evaluated as the
    checker evaluates them, on the values our closed schedule puts in the optimizer."""
    o = closed_optim(gbs)
    checks = _closed_checks("6.0.0")
    s = {"global_batch_size": gbs}
    env = {"math": math, "s": s}
    assert eval(checks["opt_base_learning_rate.CHECK"], env, {"v": {"value": o.base_lr}})
    exec(checks["opt_learning_rate_warmup_steps.POST"], env, {"v": {"value": o.warmup_steps}})
    assert s["opt_learning_rate_warmup_steps"] == o.warmup_steps
    decay = o.max_steps - o.warmup_steps  # what WarmupCosineLR logs
    assert eval(checks["opt_learning_rate_decay_steps.CHECK"], env, {"v": {"value": decay}})
    cfg = PRESETS["config_DGXH100_144x8x1"]()
    cfg.optim, cfg.data.global_batch_size = o, gbs
    assert Bm.closed_problems(cfg) == []


def test_closed_schedule_matches_every_rcp_point():
    for ruleset in ("5.0.0", "5.1.0", "6.0.0"):
        rcps = json.loads((RCPS / f"training_{ruleset}/rcps_llama31_405b.json").read_text())
        for point in rcps.values():
            o, hp = closed_optim(point["BS"]), point["Hyperparams"]
            assert o.base_lr == pytest.approx(hp["opt_base_learning_rate"], rel=1e-6)
            assert o.warmup_steps == hp["opt_learning_rate_warmup_steps"]


def test_closed_problems_name_the_schedule_value_to_use():
    cfg = apply_overrides(PRESETS["config_DGXH100_144x8x1"](), ["data.global_batch_size=2304"])
    problems = " ".join(Bm.closed_problems(cfg))
    assert "optim.base_lr=8e-05" in problems and "0.00016" in problems
    assert "optim.warmup_steps=8000" in problems and "4000" in problems
    assert "optim.max_steps=1200000" in problems and "600000" in problems
    tiny_problems = " ".join(Bm.closed_problems(tiny()))
    for key in ("data.seq_len", "data.eval_samples=256", "data.eval_every", "model:"):
        assert key in tiny_problems


@pytest.fixture(scope="module")
def tiny_root(tiny_runs) -> Path:
    """The --synthetic root with the tiny dataset and the generated checkpoint."""
    Bm(tiny(), RunContext(seed=0)).prepare_synthetic(tiny_runs.synthetic_root)
    return tiny_runs.synthetic_root


def _bm(root, *overrides, seed=3, **ctx):
    cfg = apply_overrides(tiny(), list(overrides))
    return Bm(cfg, RunContext(seed=seed, data_dir=root, synthetic=True, **ctx))


def test_runs_start_from_the_checkpoint_whatever_the_seed(tiny_root):
    from safetensors.torch import load_file

    bm = _bm(tiny_root)
    ckpt = bm.checkpoint_dir()
    assert ckpt.parent == tiny_root and ckpt != bm.data_root()  # not in the watched data dir
    index = json.loads((ckpt / INDEX).read_text())["weight_map"]
    tensors = {}
    for shard in sorted(set(index.values())):
        tensors.update(load_file(str(ckpt / shard)))
    a = _bm(tiny_root, seed=3).build_model().state_dict()
    b = _bm(tiny_root, seed=4).build_model().state_dict()
    assert torch.equal(a["layers.1.feed_forward.w2.weight"], b["layers.1.feed_forward.w2.weight"])
    hf = tensors["model.layers.1.mlp.down_proj.weight"].float()
    assert torch.equal(a["layers.1.feed_forward.w2.weight"], hf)
    assert torch.equal(a["tok_embeddings.weight"], tensors["model.embed_tokens.weight"].float())


def test_fsdp2_builds_on_meta_and_loads_after_sharding(tiny_root):
    """loop.data_parallel=fsdp2: the model is built on the meta device (nothing allocated) and
    the checkpoint is read into the (sharded) parameters in build_optimizer."""
    bm = _bm(tiny_root, "loop.data_parallel=fsdp2")
    model = bm.build_model()
    assert all(p.device.type == "meta" for p in model.parameters())
    bm.build_optimizer(model)
    ref = _bm(tiny_root).build_model()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        assert torch.equal(p, q), name
    assert torch.equal(model.rope_cos, ref.rope_cos)
    x = torch.randint(0, 256, (2, 16))
    assert torch.equal(model(x), ref(x))


def test_real_data_without_init_checkpoint_is_refused(tiny_root, tmp_path):
    bm = Bm(tiny(), RunContext(seed=1, data_dir=tiny_root / "x", synthetic=False))
    with pytest.raises(UsageError, match="init_checkpoint="):
        bm.checkpoint_dir()


def test_a_damaged_checkpoint_is_named(tiny_root, tmp_path):
    import shutil

    src = _bm(tiny_root).checkpoint_dir()
    bad = tmp_path / "ckpt"
    shutil.copytree(src, bad)
    shard = sorted(bad.glob("model-*.safetensors"))[0]
    shard.unlink()
    bm = _bm(tiny_root, f"init_checkpoint={bad}")
    with pytest.raises(InputError, match=str(shard)):
        bm.build_model()


def test_missing_checkpoint_directory_is_a_usage_error(train_cli, tiny_root, tmp_path):
    rc, _, err = train_cli(
        "llama31_405b", "--preset", "tiny", "--seed", 1, "--log", tmp_path / "r.log",
        "--division", "open", "--data", bm_data(tiny_root),
        f"init_checkpoint={tmp_path / 'nope'}",
    )  # fmt: skip
    assert rc == 2 and "nope" in err and "not a directory" in err


def bm_data(root: Path) -> Path:
    return _bm(root).data_root()
