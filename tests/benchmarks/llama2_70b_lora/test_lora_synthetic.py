"""The synthetic base model: a real pretrained checkpoint in the 70B one's layout, that knows the
language but not the task, so the tiny run is a fine-tuning that has something to learn."""

from __future__ import annotations

import json

import numpy as np
import torch

from mlperf_submit.benchmarks.common.synthetic_data import read_manifest
from mlperf_submit.benchmarks.families.hf_checkpoint import INDEX, read_index
from mlperf_submit.benchmarks.llama2_70b_lora import model as lora_model
from mlperf_submit.benchmarks.llama2_70b_lora.synthetic import SyntheticTask, pack


def test_base_checkpoint_has_the_fused_70b_layout(tiny_bm):
    ckpt = tiny_bm.checkpoint_dir()
    assert ckpt.parent == tiny_bm.ctx.data_dir and ckpt.name.startswith("llama2_70b_lora-base-")
    # not inside the dataset directory: the run reads it during init, before data may be read
    assert ckpt != tiny_bm.data_root()
    shards = sorted(p.name for p in ckpt.glob("model-*.safetensors"))
    n = len(shards)
    assert n >= 2 and shards == [f"model-{k:05d}-of-{n:05d}.safetensors" for k in range(1, n + 1)]
    config = json.loads((ckpt / "config.json").read_text())
    assert config["torch_dtype"] == "bfloat16" and config["rope_theta"] == 10000.0
    assert config["rope_scaling"] is None and config["num_key_value_heads"] == 2
    index = read_index(ckpt)
    assert json.loads((ckpt / INDEX).read_text())["metadata"]["total_size"] > 0
    names = set(index.weight_map)
    assert "model.layers.1.self_attn.qkv_proj.weight" in names
    assert not any("q_proj" in n or "k_proj" in n for n in names)
    info = read_manifest(ckpt)
    assert info["synthetic"] is True and info["pretrain_steps"] == 120


def test_pretrained_base_knows_the_language_but_not_the_task(tiny_bm):
    """On pretraining text the base is near the floor of the language; on the validation
    summaries it is far above the tiny target: the target is reached only by fine-tuning."""
    torch.manual_seed(0)
    model = lora_model.build(tiny_bm.cfg, torch.float32)
    lora_model.materialize(model, tiny_bm.cfg, torch.device("cpu"), tiny_bm.checkpoint_dir())
    model.eval()
    task = SyntheticTask(vocab_size=64)
    stream = torch.from_numpy(task.pretraining_stream(20 * 129, seed=99))
    rows = stream[: 20 * 129].view(20, 129)
    with torch.no_grad():
        logits = model(rows[:, :-1])
        lm = torch.nn.functional.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten())
    info = read_manifest(tiny_bm.checkpoint_dir())
    assert lm < 1.2 < np.log(64)  # learned: uniform guessing costs ln 64 = 4.16
    assert info["pretrain_final_loss"] < 1.2
    data = tiny_bm.build_data()
    with torch.no_grad():
        sums = sum(tiny_bm.eval_sums(model, b) for b in data.eval_batches())
    base_loss = tiny_bm.metric(sums)
    assert base_loss > 2 * tiny_bm.cfg.target  # ~2.6 against the target 0.6
    assert tiny_bm.cfg.target > task.summary_floor()  # and the target is reachable


def test_packing_is_group_texts():
    """Concatenate, cut into rows, drop the remainder; validation masks prompt and </s>."""
    samples = [(np.array([0, 2, 7, 8, 4, 5, 9, 1]), 5), (np.array([0, 2, 6, 4, 5, 1]), 4)]
    ids, labels = pack(samples, 5, mask_prompt=True)
    assert ids.tolist() == [[0, 2, 7, 8, 4], [5, 9, 1, 0, 2]]
    assert labels.tolist() == [[-100] * 5, [5, 9, -100, -100, -100]]
    ids, labels = pack(samples, 5, mask_prompt=False)
    assert labels.tolist() == ids.tolist()
