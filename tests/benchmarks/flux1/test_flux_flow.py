"""Rectified flow as the reference computes it, the optimizer and LR schedule, and when each
round evaluates (6.0.0: every 262,144 samples; 6.1.0: every ceil(262,144 / GBS) steps)."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_runs import records
from torch import nn

from mlperf_submit.benchmarks.flux1 import flow
from mlperf_submit.benchmarks.flux1.config import OptimConfig
from mlperf_submit.benchmarks.flux1.optim import WarmupConstantLR, build_adamw
from mlperf_submit.benchmarks.flux1.schedule import FIXED, ROUNDED, EvalSchedule, interval_rule


def test_packing_is_the_references_layout():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).view(2, 3, 4, 6)
    packed = flow.pack_latents(x)
    assert packed.shape == (2, 2 * 3, 3 * 4)
    # token (i, j) holds x[c, 2i + ph, 2j + pw] at c * 4 + ph * 2 + pw
    for i, j, c, ph, pw in [(0, 0, 0, 0, 0), (1, 2, 2, 1, 0), (0, 1, 1, 0, 1)]:
        assert packed[1, i * 3 + j, c * 4 + ph * 2 + pw] == x[1, c, 2 * i + ph, 2 * j + pw]
    assert torch.equal(flow.unpack_latents(packed, 4, 6), x)
    ids = flow.image_ids(2, 4, 6, torch.device("cpu"))
    assert ids.shape == (2, 6, 3) and ids[0, 5].tolist() == [0.0, 1.0, 2.0]
    assert flow.text_ids(2, 7, torch.device("cpu")).abs().sum() == 0


class _Echo(nn.Module):
    """Predicts its (packed) noisy input: the loss is then a closed form."""

    def forward(self, img, img_ids, txt, txt_ids, timesteps, y):
        return img


def test_velocity_loss_is_the_mse_to_noise_minus_data_at_x_t():
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(3, 4, 4, 4, generator=g), torch.randn(3, 4, 4, 4, generator=g)
    t = torch.tensor([0.0, 0.5, 1.0])
    per = flow.velocity_loss(_Echo(), x0, torch.zeros(3, 2, 5), torch.zeros(3, 6), noise, t)
    tb = t.view(-1, 1, 1, 1)
    want = (((1 - tb) * x0 + tb * noise) - (noise - x0)).square().mean(dim=(1, 2, 3))
    torch.testing.assert_close(per, want)
    # t = 1: x_t is the noise, the echo's error is exactly the data
    torch.testing.assert_close(per[2], x0[2].square().mean())


def test_validation_loss_is_the_mean_over_timesteps_of_the_mean_per_timestep():
    per = torch.tensor([1.0, 3.0, 10.0, 0.5])
    k = torch.tensor([0, 0, 1, 7])
    sums = flow.eval_sums(per, k, 8)
    sums[2:7] = 0
    sums[8 + 2 : 8 + 7] = 1  # timesteps 2..6: one sample each, loss 0
    assert flow.timestep_mean(sums, 8) == pytest.approx((2.0 + 10.0 + 0.5) / 8)
    sums[8 + 3] = 0
    with pytest.raises(ValueError, match=r"\[3\]"):
        flow.timestep_mean(sums, 8)


def test_adamw_has_one_group_and_the_lr_warms_up_linearly_then_stays():
    model = nn.Linear(3, 2)
    opt = build_adamw(model, OptimConfig(base_lr=1e-3, warmup_steps=4), torch.device("cpu"), True)
    assert len(opt.param_groups) == 1
    g = opt.param_groups[0]
    assert (g["betas"], g["eps"], g["weight_decay"], g["max_grad_norm"]) == (
        (0.9, 0.95), 1e-8, 0.1, 1.0
    )  # fmt: skip
    sched = WarmupConstantLR(opt, warmup_steps=4)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3, 1e-3])
    assert WarmupConstantLR(opt, warmup_steps=0).factor(0) == 1.0


def test_each_round_defines_the_evaluation_frequency_its_own_way():
    assert interval_rule("6.0.0") == FIXED and interval_rule("6.1.0") == ROUNDED
    old = EvalSchedule(every=262_144, global_batch=2304, budget=5 * 262_144, rule=FIXED)
    new = EvalSchedule(every=262_144, global_batch=2304, budget=5 * 262_144, rule=ROUNDED)
    assert old.evaluation_frequency == 262_144
    assert new.evaluation_frequency == 114 * 2304 == 262_656
    steps_old = [p // 2304 for p in old.points()]
    steps_new = [p // 2304 for p in new.points()]
    assert steps_old == [114, 228, 342, 456, 569, 683][: len(steps_old)]
    assert steps_new[:5] == [114, 228, 342, 456, 570]
    for rule in (FIXED, ROUNDED):  # a dividing batch: the same steps in both rounds
        s = EvalSchedule(every=262_144, global_batch=512, budget=3 * 262_144, rule=rule)
        assert s.evaluation_frequency == 262_144
        assert list(s.points()) == [262_144, 524_288, 786_432]


@pytest.mark.parametrize(("ruleset", "logged"), [("6.0.0", 262_144), ("6.1.0", 262_656)])
def test_closed_init_section_logs_the_rounds_frequency(ruleset, logged, train_cli, tmp_path):
    from mlperf_submit.compliance.filecheck import check_file
    from mlperf_submit.compliance.init_section import init_section_errors

    log = tmp_path / "init.log"
    rc, _, err = train_cli(
        "flux1", "--preset", "config_DGXH200_8x8x16", "--log-only", "--log", log, "--seed", 3,
        "--ruleset", ruleset, "data.global_batch_size=2304", "loop.gradient_accumulation_steps=1",
    )  # fmt: skip
    assert rc == 0, err
    values = {r["key"]: r["value"] for r in records(log)}
    assert values["evaluation_frequency"] == logged
    assert values["global_batch_size"] == 2304
    assert values["opt_adamw_epsilon"] == 1e-8 and values["opt_learning_rate_warmup_steps"] == 800
    assert init_section_errors(check_file(log, ruleset)) == []
    assert math.ceil(262_144 / 2304) * 2304 == 262_656
