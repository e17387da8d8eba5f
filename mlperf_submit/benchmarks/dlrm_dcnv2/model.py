"""DLRM with DCN-v2 interaction: TorchRec's ``DLRM_DCN``, as the reference builds it.

26 ``EmbeddingBagConfig`` tables ``t_cat_k`` (sum pooling) in one ``EmbeddingBagCollection``,
the bottom MLP over the 13 dense features, a low-rank cross network over the concatenated
embeddings and bottom output, the top MLP to one logit (``torchrec.models.dlrm.DLRM_DCN``;
the reference's ``dlrm_main.py`` with ``--interaction_type=dcn``). The batch's multi-hot ids
become a ``KeyedJaggedTensor`` with fixed lengths per feature (:func:`to_kjt`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mlperf_submit.benchmarks.dlrm_dcnv2.config import DENSE_FEATURES, ModelConfig

CAT_NAMES = [f"cat_{k}" for k in range(26)]


def build_dlrm(m: ModelConfig, *, tables_device: torch.device, dense_device: torch.device):
    """TorchRec's DLRM_DCN with the tables on ``tables_device`` (meta when they are sharded
    later or the run is --log-only) and the MLPs on ``dense_device``."""
    from torchrec.models.dlrm import DLRM_DCN
    from torchrec.modules.embedding_configs import EmbeddingBagConfig
    from torchrec.modules.embedding_modules import EmbeddingBagCollection

    tables = [
        EmbeddingBagConfig(
            name=f"t_{name}",
            embedding_dim=m.embedding_dim,
            num_embeddings=n,
            feature_names=[name],
        )
        for name, n in zip(CAT_NAMES, m.num_embeddings_per_feature, strict=True)
    ]
    return DLRM_DCN(
        embedding_bag_collection=EmbeddingBagCollection(tables=tables, device=tables_device),
        dense_in_features=DENSE_FEATURES,
        dense_arch_layer_sizes=list(m.dense_arch),
        over_arch_layer_sizes=list(m.over_arch),
        dcn_num_layers=m.dcn_num_layers,
        dcn_low_rank_dim=m.dcn_low_rank_dim,
        dense_device=dense_device,
    )


def to_kjt(ids: torch.Tensor, multi_hot_sizes: Sequence[int]):
    """``ids`` [B, sum(sizes)] (feature 0's ids, then feature 1's ...) as a KeyedJaggedTensor:
    values feature-major, every sample of feature ``k`` a bag of ``sizes[k]`` ids."""
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    b = ids.shape[0]
    parts = torch.split(ids, list(multi_hot_sizes), dim=1)
    values = torch.cat([p.reshape(-1) for p in parts])
    lengths = torch.tensor(multi_hot_sizes, dtype=torch.int32, device=ids.device)
    return KeyedJaggedTensor.from_lengths_sync(
        keys=CAT_NAMES, values=values, lengths=lengths.repeat_interleave(b)
    )


def parameter_count(model: nn.Module) -> tuple[int, int]:
    """(table parameters, dense parameters), counted on any device including meta."""
    from mlperf_submit.benchmarks.families.recsys.tables import embedding_modules

    tables = {id(p) for _, mod in embedding_modules(model) for p in mod.parameters()}
    t = sum(p.numel() for p in model.parameters() if id(p) in tables)
    d = sum(p.numel() for p in model.parameters() if id(p) not in tables)
    return t, d
