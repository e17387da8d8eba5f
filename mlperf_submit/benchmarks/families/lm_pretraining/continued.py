"""Continued pretraining: an LLM benchmark that starts from a Hugging Face checkpoint.

llama31_405b and deepseekv3_671b do not train from scratch: every run starts from the same
published weights (Llama 3.1 405B; a DeepSeek-V3 671B checkpoint adapted to the Llama 3.1
tokenizer) and continues pretraining on C4. A benchmark of that kind subclasses
:class:`ContinuedPretrainingBenchmark` and says where each of its parameters lives in the
checkpoint (``checkpoint_sources``) and how to write one (``export_checkpoint``)::

    class Llama31_405B(ContinuedPretrainingBenchmark):
        def checkpoint_sources(self):  return llama_sources(self.cfg.model)
        def export_checkpoint(self, model):  return export_llama(model, ...), hf_llama_config(...)

Which checkpoint a run loads (``checkpoint_dir``):

* ``init_checkpoint=DIR`` -- always that one (an HF directory: ``config.json``, the index and
  its safetensors shards); a missing or damaged one is an error naming the file;
* else with ``--synthetic ROOT``: a generated checkpoint of the preset's shape, written once
  beside the synthetic dataset (``ROOT/<bm>-checkpoint-synthetic-<digest>/``, a seeded random
  initialisation in the real layout and dtype -- what matters on CPU is the loading path, not
  the weights); it is *not* inside the watched dataset directory, because loading it is init;
* else with ``--data DIR``: refused (``init_checkpoint`` is required, as in the reference);
* a trainer built with no data at all (unit tests, ``--log-only``) starts from the seeded
  initialisation; ``--log-only`` keeps the model on the meta device.

Loading happens inside init (``init_start`` .. ``init_stop``), as the reference's checkpoint
restore does. With ``loop.data_parallel=fsdp2`` the model is built on the meta device, sharded
by the Trainer, and materialised shard by shard in ``build_optimizer`` (before the optimizer
sees the parameters): no rank ever holds the whole model, and each rank reads only its rows of
each checkpoint tensor (``hf_checkpoint.load_checkpoint`` on DTensors).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlperf_submit.benchmarks.common.synthetic_data import SyntheticData
from mlperf_submit.benchmarks.families.decoder.model import Decoder
from mlperf_submit.benchmarks.families.decoder.rope import rope_cos_sin
from mlperf_submit.benchmarks.families.hf_checkpoint import Source, load_checkpoint, save_checkpoint
from mlperf_submit.benchmarks.families.lm_pretraining.benchmark import LMPretrainingBenchmark
from mlperf_submit.benchmarks.families.lm_pretraining.config import PretrainConfig
from mlperf_submit.errors import InputError, UsageError

SYNTHETIC_CHECKPOINT_SEED = 20250301
"""Seed of the generated checkpoint's weights: every run of a campaign starts from the same."""


@dataclass
class ContinuedPretrainConfig(PretrainConfig):
    init_checkpoint: str = ""
    """The Hugging Face checkpoint directory every run starts from (required with --data; with
    --synthetic a generated one of the preset's shape is used when this is empty)."""


class ContinuedPretrainingBenchmark(LMPretrainingBenchmark):
    """An LM pretraining benchmark whose runs start from a checkpoint (see the module doc)."""

    config_class = ContinuedPretrainConfig
    cfg: ContinuedPretrainConfig

    # -- what a subclass says about its checkpoint layout ---------------------------------
    def checkpoint_sources(self, model: nn.Module) -> dict[str, Source]:
        """Our parameter name -> where it is in the checkpoint."""
        raise NotImplementedError

    def export_checkpoint(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors under their checkpoint names, config.json) of ``model``."""
        raise NotImplementedError

    def load_into(self, model: nn.Module, directory: Path) -> None:
        """Fill ``model`` from the checkpoint (a subclass with another layout overrides)."""
        load_checkpoint(model, directory, self.checkpoint_sources(model))

    # -- the generated checkpoint --------------------------------------------------------
    def synthetic_checkpoint(self, root: Path) -> SyntheticData:
        m = self.cfg.model
        spec = {
            "format": "hf-safetensors",
            "model": m.to_dict(),
            "parts": [type(m.attention).__name__, type(m.ffn).__name__],
            "seed": SYNTHETIC_CHECKPOINT_SEED,
        }
        return SyntheticData(
            root, f"{self.name}-checkpoint", spec, writer=self._write_checkpoint, generator=__name__
        )

    def _write_checkpoint(self, out: Path) -> dict:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SYNTHETIC_CHECKPOINT_SEED)
            with torch.device("cpu"):
                model = self.new_model()
        tensors, config = self.export_checkpoint(model)
        save_checkpoint(out, tensors, config)
        return {"tensors": len(tensors), "parameters": sum(t.numel() for t in tensors.values())}

    def new_model(self) -> nn.Module:
        """The model of the config, initialised from the torch RNG (on the current device)."""
        return Decoder(self.cfg.model, checkpoint_blocks=self.cfg.activation_checkpointing)

    def prepare_synthetic(self, root: Path) -> Path:
        data = super().prepare_synthetic(root)
        if not self.cfg.init_checkpoint:
            self.synthetic_checkpoint(root).ensure()
        return data

    def checkpoint_dir(self) -> Path | None:
        """The checkpoint this run loads, or None (no data: tests, --log-only)."""
        if self.cfg.init_checkpoint:
            return Path(self.cfg.init_checkpoint)
        if self.ctx.data_dir is None or self.ctx.log_only:
            return None
        if self.ctx.synthetic:
            return self.synthetic_checkpoint(Path(self.ctx.data_dir)).resolve()
        raise UsageError(
            f"{self.name} continues pretraining from a checkpoint: set init_checkpoint=<the "
            "Hugging Face checkpoint directory> (config.json, model.safetensors.index.json and "
            "its shards)"
        )

    def check_data_dir(self, root: Path) -> None:
        super().check_data_dir(root)
        ckpt = self.checkpoint_dir()
        if ckpt is not None and not ckpt.is_dir():
            raise InputError(f"init_checkpoint {ckpt}: not a directory")

    # -- init ----------------------------------------------------------------------------
    def deferred_init(self) -> bool:
        """Build on the meta device and materialise after sharding (FSDP2 of a real run)."""
        return self.cfg.loop.data_parallel == "fsdp2" and not self.ctx.log_only

    def build_model(self) -> nn.Module:
        device = torch.device("meta") if self.deferred_init() else self.model_device()
        with device:
            model = self.new_model()
        if device.type != "meta":
            self._load_or_keep(model)
        return model

    def build_optimizer(self, model: nn.Module):
        if self.deferred_init() and any(p.device.type == "meta" for p in model.parameters()):
            self._materialise(model)
        return super().build_optimizer(model)

    def _materialise(self, model: nn.Module) -> None:
        """Storage for the (sharded) parameters on the run's device, the RoPE tables recomputed
        (``to_empty`` leaves buffers uninitialised), then the checkpoint's rows, or -- with no
        checkpoint -- the seeded initialisation on the shards."""
        model.to_empty(device=self.ctx.device)
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, Decoder):
                    c = module.cfg
                    cos, sin = rope_cos_sin(
                        c.rotary_dim, c.max_seq_len, c.rope_theta, c.rope_scaling
                    )
                    module.rope_cos.copy_(cos)
                    module.rope_sin.copy_(sin)
        if not self._load_or_keep(model):
            for module in model.modules():
                if isinstance(module, Decoder):
                    module.reset_parameters()

    def _load_or_keep(self, model: nn.Module) -> bool:
        ckpt = self.checkpoint_dir()
        if ckpt is None:
            return False
        self.load_into(model, ckpt)
        return True

    def hyperparameters(self, optimizer, scheduler) -> dict[str, Any]:
        # The run starts at step 0 of the schedule from the checkpoint's weights (weights only:
        # no optimizer state or step is restored, as in the reference).
        return {**super().hyperparameters(optimizer, scheduler), "init_checkpoint_step": 0}
