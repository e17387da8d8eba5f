"""The reference's HSTU ranking model (``modules/dlrm_hstu.py``) in PyTorch, tables in TorchRec.

Per sample: 8 contextual tokens (uid and 7 cross ids, each through its own linear map), the
history (item embedding -> content MLP, + artist/album embeddings -> additional MLP, + the
pool bits -> action MLP) and the candidate (the same MLPs, with a learned target action
embedding); positions and time buckets added (``HSTUPositionalEncoder``), input dropout, a stack
of STU layers (``modules/stu.py``: LayerNorm, one UVQK projection, pointwise SiLU attention
``silu(q k / sqrt(d_qk)) / max_seq_len`` under the causal target-aware mask, then
``x + [u, a, u * LayerNorm(a)] W``), the candidate's output with hour-of-day / day-of-week
features (``TimestampLayerNormPostprocessor``); the item tower (candidate item, artist, album
embeddings -> MLP); the head ``MLP(user * item)`` -> one listen_plus logit. The loss is the
reference's ``0.2 x`` mean binary cross entropy.

Sequences are padded to the batch's longest history and masked; the attention normaliser is the
configured ``max_seq_len`` (the reference's static maximum), so a sample's output does not
depend on what it is batched with. The reference runs the same arithmetic in jagged Triton
kernels; this padded form needs ``B H N^2`` memory (fine for the tiny and small presets, not for
the 4,096-position closed shape, which only runs ``--log-only`` here).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_submit.benchmarks.dlrmv4.config import CROSS_SPECS, ModelConfig

CONTEXT = ["uid"] + [name for name, _, _ in CROSS_SPECS]
ACTION_BITS = (1, 2, 4)  # listen+, like, skip


class SwishLayerNorm(nn.Module):
    """``x * sigmoid(LayerNorm(x))`` (the reference's SwishLayerNorm)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.norm(x))


def _mlp(d_in: int, hidden: int, d_out: int, init) -> nn.Sequential:
    mlp = nn.Sequential(
        nn.Linear(d_in, hidden),
        SwishLayerNorm(hidden),
        nn.Linear(hidden, d_out),
        nn.LayerNorm(d_out),
    )
    for m in mlp:
        if isinstance(m, nn.Linear):
            init(m.weight)
            nn.init.zeros_(m.bias)
    return mlp


class STULayer(nn.Module):
    """One HSTU layer (module doc); parameters named and initialised as the reference's."""

    def __init__(self, dim: int, heads: int, qk_dim: int, linear_dim: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.qk_dim, self.linear_dim, self.dropout = heads, qk_dim, linear_dim, dropout
        width = (2 * linear_dim + 2 * qk_dim) * heads
        self.uvqk_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, width)))
        self.uvqk_beta = nn.Parameter(torch.zeros(width))
        self.input_norm = nn.LayerNorm(dim, eps=1e-6)
        self.output_weight = nn.Parameter(
            nn.init.xavier_uniform_(torch.empty(3 * linear_dim * heads, dim))
        )
        self.output_norm = nn.LayerNorm(linear_dim * heads, eps=1e-6)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, norm: int) -> torch.Tensor:
        b, n, _ = x.shape
        h, a, v_dim = self.heads, self.qk_dim, self.linear_dim
        uvqk = torch.addmm(self.uvqk_beta, self.input_norm(x).reshape(b * n, -1), self.uvqk_weight)
        u, v, q, k = torch.split(uvqk.view(b, n, -1), [v_dim * h, v_dim * h, a * h, a * h], dim=-1)
        u = F.silu(u)
        q = q.view(b, n, h, a).transpose(1, 2)
        k = k.view(b, n, h, a).transpose(1, 2)
        v = v.view(b, n, h, v_dim).transpose(1, 2)
        scores = F.silu(q @ k.transpose(-1, -2) * (1.0 / math.sqrt(a))) / norm
        attn = (scores * mask.unsqueeze(1)) @ v  # [b, h, n, v]
        attn = attn.transpose(1, 2).reshape(b, n, h * v_dim)
        y = torch.cat([u, attn, u * self.output_norm(attn)], dim=-1)
        y = F.dropout(y, p=self.dropout, training=self.training)
        return x + y @ self.output_weight


def attention_mask(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """The reference's causal target-aware mask (``_get_valid_attn_mask``, one target):
    position i sees j when i == j or min(i, L-1) > min(j, L-1), L the sample's length."""
    ids = torch.arange(n, device=lengths.device).view(1, n)
    ids = torch.minimum(ids, (lengths - 1).view(-1, 1))
    dist = ids.unsqueeze(2) - ids.unsqueeze(1)
    eye = torch.eye(n, dtype=torch.bool, device=lengths.device).unsqueeze(0)
    return (eye | (dist > 0)).to(torch.float32)


class HSTU(nn.Module):
    def __init__(self, m: ModelConfig, *, tables_device: torch.device) -> None:
        super().__init__()
        from torchrec.modules.embedding_configs import EmbeddingConfig
        from torchrec.modules.embedding_modules import EmbeddingCollection

        self.m = m
        d_in, d = m.table_dim, m.dim
        specs = [
            ("item_id", m.items, ["item_id", "item_candidate_id"]),
            ("artist_id", m.artists, ["artist_id", "item_candidate_artist_id"]),
            ("album_id", m.albums, ["album_id", "item_candidate_album_id"]),
            ("uid", m.users, ["uid"]),
        ] + [
            (name, rows, [name])
            for (name, _, _), rows in zip(CROSS_SPECS, m.cross_rows, strict=True)
        ]
        self.embeddings = EmbeddingCollection(
            tables=[
                EmbeddingConfig(name=n, embedding_dim=d_in, num_embeddings=rows, feature_names=f)
                for n, rows, f in specs
            ],
            need_indices=False,
            device=tables_device,
        )
        std = math.sqrt(2.0 / (d_in + d))
        self.contextual_weight = nn.Parameter(torch.empty(len(CONTEXT), d_in, d).normal_(0, std))
        self.contextual_bias = nn.Parameter(torch.zeros(len(CONTEXT), d))
        # The transducer re-initialises its non-STU Linear layers with xavier_normal_.
        normal = nn.init.xavier_normal_
        hid = m.preprocessor_hidden_dim
        self.content_mlp = _mlp(d_in, hid, d, normal)
        self.additional_mlp = _mlp(2 * d_in, hid, d, normal)
        k = len(ACTION_BITS)
        self.action_table = nn.Parameter(torch.empty(k, m.action_embedding_dim).normal_(0, 0.1))
        self.target_action = nn.Parameter(
            torch.empty(1, k * m.action_embedding_dim).normal_(0, 0.1)
        )
        self.action_mlp = _mlp(k * m.action_embedding_dim, hid, d, normal)
        self.register_buffer("action_bits", torch.tensor(ACTION_BITS), persistent=False)
        bound_p, bound_t = math.sqrt(1.0 / m.position_buckets), math.sqrt(1.0 / m.time_buckets)
        self.position = nn.Parameter(torch.empty(m.position_buckets, d).uniform_(-bound_p, bound_p))
        self.time = nn.Parameter(torch.empty(m.time_buckets + 1, d).uniform_(-bound_t, bound_t))
        self.layers = nn.ModuleList(
            STULayer(d, m.num_heads, m.qk_dim, m.linear_dim, m.linear_dropout)
            for _ in range(m.num_layers)
        )
        self.time_combiner = nn.Linear(d + 4, d)
        normal(self.time_combiner.weight)
        nn.init.zeros_(self.time_combiner.bias)
        self.output_norm = nn.LayerNorm(d, eps=1e-5)
        uniform = nn.init.xavier_uniform_
        self.item_mlp = _mlp(3 * d_in, 512, d, uniform)
        head = [nn.Linear(d, 512), SwishLayerNorm(512), nn.Linear(512, 1)]
        for layer in (head[0], head[2]):
            uniform(layer.weight)
            nn.init.zeros_(layer.bias)
        self.head = nn.Sequential(*head)

    # -- the batch as TorchRec sees it ----------------------------------------------------------
    def lookups(self, hist: list[torch.Tensor], lengths: torch.Tensor, context, candidate):
        """The KeyedJaggedTensor of one batch and the EmbeddingCollection's output."""
        from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

        b, width = hist[0].shape
        keep = torch.arange(width, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)
        keys, values, lens = [], [], []
        for name, t in zip(("item_id", "artist_id", "album_id"), hist, strict=True):
            keys.append(name)
            values.append(t[keep])
            lens.append(lengths)
        ones = torch.ones(b, dtype=lengths.dtype, device=lengths.device)
        for j, name in enumerate(CONTEXT):
            keys.append(name)
            values.append(context[:, j])
            lens.append(ones)
        for j, name in enumerate(
            ("item_candidate_id", "item_candidate_artist_id", "item_candidate_album_id")
        ):
            keys.append(name)
            values.append(candidate[:, j])
            lens.append(ones)
        kjt = KeyedJaggedTensor.from_lengths_sync(
            keys=keys, values=torch.cat(values), lengths=torch.cat(lens)
        )
        return self.embeddings(kjt), keep

    def forward(self, batch) -> torch.Tensor:
        items, artists, albums, tss, weights, lengths, context, candidate = batch[:8]
        b = items.shape[0]
        width = max(int(lengths.max()), 1) if b else 1  # compute on the longest history only
        hist = [t[:, :width] for t in (items, artists, albums, tss, weights)]
        out, keep = self.lookups(hist[:3], lengths, context, candidate)
        d_in = self.m.table_dim

        def padded(name: str) -> torch.Tensor:
            x = out[name].values().new_zeros(b, width, d_in)
            x[keep] = out[name].values()
            return x

        def one(name: str) -> torch.Tensor:
            return out[name].values().view(b, d_in)

        # History and candidate tokens: content + additional + action MLPs.
        seq_item = torch.cat([padded("item_id"), one("item_candidate_id").unsqueeze(1)], 1)
        seq_extra = torch.cat(
            [
                torch.cat([padded("artist_id"), padded("album_id")], -1),
                torch.cat(
                    [one("item_candidate_artist_id"), one("item_candidate_album_id")], -1
                ).unsqueeze(1),
            ],
            1,
        )
        bits = (hist[4].unsqueeze(-1) & self.action_bits) > 0  # [b, w, 3]
        actions = (bits.unsqueeze(-1) * self.action_table).flatten(2)
        actions = torch.cat([actions, self.target_action.expand(b, 1, -1)], 1)
        tokens = (
            self.content_mlp(seq_item) + self.additional_mlp(seq_extra) + self.action_mlp(actions)
        )
        # The candidate sits right after each sample's history, not after the padding.
        n_hist = lengths
        seq = tokens.new_zeros(b, width + 1, tokens.shape[-1])
        seq[:, :width] = tokens[:, :width]
        rows = torch.arange(b, device=tokens.device)
        seq[rows, n_hist] = tokens[:, width]
        # Contextual tokens in front: one linear map per contextual feature.
        ctx = torch.stack([one(name) for name in CONTEXT], 1)  # [b, 8, d_in]
        ctx = torch.einsum("bci,cio->bco", ctx, self.contextual_weight) + self.contextual_bias
        x = torch.cat([ctx, seq], 1)  # [b, n, d]
        c, n = len(CONTEXT), x.shape[1]
        total = c + n_hist + 1  # valid positions per sample
        # Time of every position: 0 for contextual, history times, the candidate's query time.
        times = torch.zeros(b, n, dtype=torch.int64, device=x.device)
        times[:, c : c + width] = hist[3]
        query = candidate[:, 3]
        times[rows, c + n_hist] = query
        x = self._positions(x, total, times, query)
        x = F.dropout(x, p=self.m.input_dropout, training=self.training)
        mask = attention_mask(total, n)
        for layer in self.layers:
            x = layer(x, mask, self.m.max_seq_len)
        user = x[rows, total - 1]  # the candidate's output
        user = self.output_norm(self.time_combiner(torch.cat([user, _time_features(query)], -1)))
        item = self.item_mlp(
            torch.cat(
                [
                    one("item_candidate_id"),
                    one("item_candidate_artist_id"),
                    one("item_candidate_album_id"),
                ],
                -1,
            )
        )
        return self.head(user * item).squeeze(-1)

    def _positions(self, x, total, times, query) -> torch.Tensor:
        """``x * sqrt(d) + position + time-bucket`` embeddings (HSTUPositionalEncoder)."""
        b, n, d = x.shape
        c = len(CONTEXT)
        col = torch.arange(n, device=x.device).view(1, n)
        high = (total - 1).view(-1, 1)
        pos = high - torch.minimum(col, high) + c
        pos[:, :c] = torch.arange(c, device=x.device)
        pos = pos.clamp(max=self.m.position_buckets - 1)
        delta = (query.view(-1, 1) - times).double().clamp(min=1e-6) / 60.0
        bucket = torch.sqrt(delta).clamp(min=0).long().clamp(max=self.m.time_buckets)
        return x * math.sqrt(d) + self.position[pos] + self.time[bucket]


def _time_features(ts: torch.Tensor) -> torch.Tensor:
    """cos/sin of hour of day and day of week (TimestampLayerNormPostprocessor; 2 x 3.14 as the
    reference writes it)."""
    feats = []
    for unit, per in ((3600, 24), (86400, 7)):
        angle = (
            torch.remainder(torch.div(ts, unit, rounding_mode="floor"), per).float()
            / per
            * 2
            * 3.14
        )
        feats += [torch.cos(angle), torch.sin(angle)]
    return torch.stack(feats, -1)


def hstu_loss(logits: torch.Tensor, labels: torch.Tensor, weight: float) -> torch.Tensor:
    """The reference's multitask loss for one binary task: weight x mean BCE with logits."""
    return weight * F.binary_cross_entropy_with_logits(logits.float(), labels)
