"""The raw-image path: .jpg + .txt shards encoded on the fly by frozen T5 / CLIP / VAE loaded
from (tiny, generated) Hugging Face checkpoint directories, with both image loaders; the
encoders are never trained, never in the model, never in the optimizer."""

from __future__ import annotations

import copy

import pytest
import torch

from mlperf_submit.benchmarks.common.config import apply_overrides
from mlperf_submit.benchmarks.common.interface import RunContext
from mlperf_submit.benchmarks.common.trainer import Trainer
from mlperf_submit.benchmarks.flux1.benchmark import Flux1Benchmark
from mlperf_submit.benchmarks.flux1.config import tiny_raw
from mlperf_submit.benchmarks.flux1.encoders import CaptionTokenizer
from mlperf_submit.errors import InputError, UsageError
from mlperf_submit.launch.distributed.seeding import derive_seed
from mlperf_submit.logging import MLPerfLogger


def _trainer(tmp_path, root, encoders, *more, name="raw"):
    overrides = [f"{k}={v}" for k, v in encoders.items()] + list(more)
    cfg = apply_overrides(tiny_raw(), overrides)
    ctx = RunContext(seed=3, data_dir=root.parent, synthetic=True, division="open",
                     ruleset="6.1.0", preset="tiny_raw")  # fmt: skip
    logger = MLPerfLogger("flux1", "6.1.0", "open", str(tmp_path / f"{name}.log"), check="off",
                          echo=False)  # fmt: skip
    return Trainer(Flux1Benchmark(cfg, ctx), logger)


def test_tokenizers_pad_and_truncate_as_the_reference(tiny_encoders):
    cfg = apply_overrides(tiny_raw(), [f"{k}={v}" for k, v in tiny_encoders.items()])
    tok = CaptionTokenizer.load(cfg.encoders)
    t5, clip = tok("a photo of a red circle")
    assert t5.shape == (16,) and clip.shape == (16,)
    assert t5[6] == 1 and t5[7:].eq(0).all()  # 6 words, </s>, then padding
    assert clip[0] == 1 and clip[7] == 0  # <|startoftext|> 6 words <|endoftext|>
    empty_t5, _ = tok("")
    assert empty_t5[0] == 1 and empty_t5[1:].eq(0).all()


@pytest.mark.parametrize("loader", ["torch", "dali"])
def test_the_raw_path_trains_with_frozen_encoders(tmp_path, flux_raw_data, tiny_encoders, loader):
    trainer = _trainer(tmp_path, flux_raw_data, tiny_encoders, f"data.loader={loader}",
                       "data.workers=1", "loop.warmup_steps=1", name=loader)  # fmt: skip
    trainer.init()
    bm = trainer.bm
    enc = bm.encoders
    frozen = {n: p.detach().clone() for m in enc.modules() for n, p in m.named_parameters()}
    trained = sum(p.numel() for g in trainer.optimizer.param_groups for p in g["params"])
    assert trained == sum(p.numel() for p in trainer.model.parameters())
    assert not any(p.requires_grad for m in enc.modules() for p in m.parameters())
    assert not any(k.startswith(("t5", "clip", "vae")) for k in trainer.model.state_dict())
    before = copy.deepcopy(trainer.model.state_dict())
    status = trainer.run()
    trainer.data.close()
    assert status in ("success", "aborted") and len(trainer.result.losses) == 512 // 32
    assert all(torch.isfinite(torch.tensor(trainer.result.losses)))
    assert [e[0] for e in trainer.result.evals] == [256, 512]
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the MMDiT learnt ...
    for m in enc.modules():  # ... the encoders did not
        for n, p in m.named_parameters():
            assert torch.equal(p, frozen[n]), n
    trainer.logger.close()


def test_warm_up_on_the_raw_path_leaves_model_and_optimizer_as_built(
    tmp_path, flux_raw_data, tiny_encoders
):
    trainer = _trainer(tmp_path, flux_raw_data, tiny_encoders, "loop.warmup_steps=2")
    trainer.init()
    torch.manual_seed(derive_seed(3, 0, "model"))
    fresh = trainer.bm.build_model().state_dict()
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(fresh[k], v), k
    assert trainer.optimizer.state_dict()["state"] == {}
    trainer.logger.close()


def test_missing_or_mismatched_encoders_are_named(tmp_path, flux_raw_data, tiny_encoders):
    with pytest.raises(UsageError, match=r"encoders\.t5 is not set"):
        _trainer(tmp_path, flux_raw_data, {}, name="none").init()
    bad = dict(tiny_encoders, **{"encoders.vae": str(tmp_path)})
    with pytest.raises(InputError, match=r"encoders\.vae=.*: no config\.json"):
        _trainer(tmp_path, flux_raw_data, bad, name="novae").init()
    with pytest.raises(UsageError, match=r"encoders\.t5 produces width 32 but data\.t5_dim=48"):
        _trainer(tmp_path, flux_raw_data, tiny_encoders, "data.t5_dim=48",
                 "model.context_in_dim=48", name="wide").init()  # fmt: skip
