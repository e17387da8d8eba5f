"""deepseekv3_671b: the 671B shape, the model against transformers' DeepseekV3ForCausalLM on
the same checkpoint, YaRN against transformers' formula, the closed schedule and first-eval
rule as the YAML computes them, continued pretraining from the HF layout, and the contract."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from mlperf_logging import compliance_checker, rcp_checker

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import Block, RunContext
from mlperf_submit.benchmarks.deepseekv3_671b.benchmark import DeepSeekV3_671BBenchmark as Bm
from mlperf_submit.benchmarks.deepseekv3_671b.config import (
    DEEPSEEK_V3,
    PRESETS,
    closed_optim,
    tiny,
)
from mlperf_submit.benchmarks.families.decoder.flops import matmul_params
from mlperf_submit.benchmarks.families.decoder.hf_names_deepseek import (
    export_deepseek,
    hf_deepseek_config,
    load_deepseek,
)
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.decoder.moe import Experts
from mlperf_submit.benchmarks.families.decoder.rope import (
    YarnScaling,
    inverse_frequencies,
    yarn_scale,
)
from mlperf_submit.benchmarks.families.hf_checkpoint import save_checkpoint
from mlperf_submit.errors import InputError

CHECKER = Path(compliance_checker.__file__).parent
RCPS = Path(rcp_checker.__file__).parent


def test_671b_shape_total_and_active_parameters():
    with torch.device("meta"):
        model = Decoder(DEEPSEEK_V3)
    # DeepSeek's 671B (671,026,404,352 with its 129,280 vocabulary, without the MTP module);
    # the reference's Llama 3.1 vocabulary is 1,024 rows shorter in both tables.
    assert model.num_params() == 671_026_404_352 - 2 * 1024 * 7168
    assert matmul_params(DEEPSEEK_V3) / 1e9 == pytest.approx(37, rel=0.02)  # "37B activated"


@pytest.fixture(scope="module")
def hf_checkpoint(tmp_path_factory) -> tuple[Path, Decoder]:
    """Our tiny DeepSeek-V3 (routing biases set) written in the Hugging Face layout."""
    cfg = tiny().model
    torch.manual_seed(0)
    ours = Decoder(cfg)
    with torch.no_grad():
        for m in ours.modules():
            if getattr(m, "expert_bias", None) is not None:
                m.expert_bias.normal_(0.0, 0.05)
    out = tmp_path_factory.mktemp("hf") / "ckpt"
    save_checkpoint(
        out, export_deepseek(ours, cfg, torch.float32), hf_deepseek_config(cfg, "float32")
    )
    return out, ours.eval()


def test_model_equals_transformers_deepseek_v3_on_the_same_checkpoint(hf_checkpoint):
    """MLA (q/kv latents, interleaved RoPE, YaRN scale), the dense first layer, sigmoid routing
    in groups with the correction bias, shared experts: logits equal transformers'."""
    from transformers import DeepseekV3ForCausalLM

    path, ours = hf_checkpoint
    theirs = DeepseekV3ForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    x = torch.randint(0, 256, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x).logits, atol=1e-5)


def test_yarn_frequencies_equal_transformers():
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    from transformers.models.deepseek_v3.configuration_deepseek_v3 import DeepseekV3Config

    s = YarnScaling(factor=40.0, original_max_position_embeddings=4096)
    hf_cfg = DeepseekV3Config(
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0,
                         "original_max_position_embeddings": 4096, "beta_fast": 32,
                         "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
        max_position_embeddings=163840,
    )  # fmt: skip
    theirs, table_scale = ROPE_INIT_FUNCTIONS["yarn"](hf_cfg)
    ours = yarn_scale(inverse_frequencies(64, 10000.0), 64, 10000.0, s)
    assert torch.allclose(ours.float(), theirs, rtol=1e-5)
    assert s.table_scale() == table_scale == 1.0
    assert s.softmax_scale() == pytest.approx((0.1 * math.log(40) + 1) ** 2)


def _closed_rules(ruleset: str) -> dict[str, dict]:
    rules = yaml.safe_load(
        (CHECKER / f"training_{ruleset}/closed_deepseekv3_671b.yaml").read_text()
    )
    return {r["KEY"]["NAME"]: r["KEY"] for r in rules}


@pytest.mark.parametrize("gbs", [15360, 16384, 18432, 20000, 32768])
def test_closed_schedule_and_first_eval_as_the_yaml_computes_them(gbs):
    rules = _closed_rules("6.1.0")
    o = closed_optim(gbs)
    s = {"global_batch_size": gbs}
    env = {"math": math, "s": s}
    assert eval(rules["opt_base_learning_rate"]["CHECK"], env, {"v": {"value": o.base_lr}})
    assert eval(
        rules["opt_learning_rate_warmup_steps"]["CHECK"], env, {"v": {"value": o.warmup_steps}}
    )
    s["opt_learning_rate_warmup_steps"] = o.warmup_steps
    decay = {"v": {"value": o.max_steps - o.warmup_steps}}
    assert eval(rules["opt_learning_rate_decay_steps"]["CHECK"], env, decay)
    cfg = apply_overrides(PRESETS["config_GB300_64x4x64"](), [f"data.global_batch_size={gbs}"])
    cfg.optim = o
    assert Bm.closed_problems(cfg) == []
    first, second = list(Bm(cfg, RunContext(seed=1, log_only=True)).blocks())[:2]
    first_eval = {"v": {"value": 3.9, "metadata": {"samples_count": first.end}}}
    assert eval(rules["eval_accuracy"]["FIRST_CHECK"], env, first_eval)
    assert second == Block(first.end, gbs)  # then after every step


def test_closed_schedule_matches_the_rcp_points():
    rcps = json.loads((RCPS / "training_6.1.0/rcps_deepseekv3_671b.json").read_text())
    for point in rcps.values():
        o, hp = closed_optim(point["BS"]), point["Hyperparams"]
        assert o.base_lr == pytest.approx(hp["opt_base_learning_rate"], abs=1e-9)
        assert o.warmup_steps == hp["opt_learning_rate_warmup_steps"]
        assert o.max_steps - o.warmup_steps == hp["opt_learning_rate_decay_steps"]


def test_closed_problems_name_the_rule():
    small = apply_overrides(PRESETS["config_GB300_64x4x64"](), ["data.global_batch_size=8192"])
    problems = " ".join(Bm.closed_problems(small))
    assert "data.global_batch_size=8192: closed requires >= 15360" in problems
    assert "optim.base_lr=2.4e-05" in problems and "1.6971e-05" in problems
    late = apply_overrides(PRESETS["config_GB300_64x4x64"](), ["first_eval_step=10"])
    assert "first_eval_step=10" in " ".join(Bm.closed_problems(late))
    coeff = replace(
        tiny(), model=replace(DEEPSEEK_V3, ffn=replace(DEEPSEEK_V3.ffn, aux_loss_coeff=0.001))
    )
    assert "model.ffn.aux_loss_coeff=0.001" in " ".join(Bm.closed_problems(coeff))


@pytest.fixture(scope="module")
def tiny_root(tiny_runs) -> Path:
    Bm(tiny(), RunContext(seed=0)).prepare_synthetic(tiny_runs.synthetic_root)
    return tiny_runs.synthetic_root


def _bm(root, *overrides, seed=3):
    return Bm(
        apply_overrides(tiny(), list(overrides)),
        RunContext(seed=seed, data_dir=root, synthetic=True),
    )


def test_runs_start_from_the_checkpoint_routing_bias_included(tiny_root):
    a = _bm(tiny_root, seed=3).build_model().state_dict()
    b = _bm(tiny_root, seed=4).build_model().state_dict()
    for name in ("layers.2.feed_forward.experts.w2", "layers.1.attention.wkv_b.weight",
                 "layers.1.feed_forward.router.expert_bias"):  # fmt: skip
        assert torch.equal(a[name], b[name]), name


def test_fsdp2_builds_on_meta_and_loads_the_experts_after_sharding(tiny_root):
    bm = _bm(tiny_root, "loop.data_parallel=fsdp2")
    model = bm.build_model()
    assert all(p.device.type == "meta" for p in model.parameters())
    bm.build_optimizer(model)
    ref = _bm(tiny_root).build_model()
    for (name, p), q in zip(model.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(p, q), name


def test_each_expert_parallel_rank_loads_only_its_own_experts(hf_checkpoint):
    """model.ffn.expert_parallel=2: rank r holds experts [4r, 4r + 4) and reads only those."""
    path, ours = hf_checkpoint
    cfg = tiny().model
    ep_cfg = replace(cfg, ffn=replace(cfg.ffn, expert_parallel=2))
    full = ours.state_dict()
    for rank in (0, 1):
        model = Decoder(ep_cfg)  # no process group: built with rank 0's shapes ...
        for m in model.modules():
            if isinstance(m, Experts):
                m.first = rank * m.n_local  # ... and placed where rank `rank` builds them
        load_deepseek(model, path, ep_cfg)
        for name, p in model.state_dict().items():
            want = full[name][4 * rank : 4 * rank + 4] if ".experts.w" in name else full[name]
            assert torch.equal(p, want), (rank, name)


def test_a_missing_expert_tensor_is_named(hf_checkpoint, tmp_path):
    from safetensors.torch import load_file, save_file

    src, _ = hf_checkpoint
    bad = tmp_path / "ckpt"
    shutil.copytree(src, bad)
    index = json.loads((bad / "model.safetensors.index.json").read_text())
    gone = "model.layers.2.mlp.experts.5.up_proj.weight"
    shard = bad / index["weight_map"][gone]
    tensors = load_file(str(shard))
    del tensors[gone]
    save_file(tensors, str(shard))
    bm = _bm(tiny_root_of(src), f"init_checkpoint={bad}")
    with pytest.raises(InputError, match=f"{shard}.*{gone}"):
        bm.build_model()


def tiny_root_of(path: Path) -> Path:
    return path.parent  # any directory: init_checkpoint is set, no data is read
