"""Read hyperparameters back from the objects in effect, for ``MLPerfLogger.hyperparameters``.

The references log what was *requested* (a config value) rather than what the optimizer really
uses; a scheduler, a scaled LR or a per-group override then makes the log lie. These helpers read
the live objects instead. They are duck-typed (anything with ``param_groups``; any attributes),
so importing them does not import torch.

    opt = torch.optim.AdamW(params, lr=8e-4, betas=(0.9, 0.95), eps=1e-5, weight_decay=0.1)
    log.hyperparameters(
        opt_name=optimizer_name(opt),
        **optimizer_values(opt, {
            "opt_base_learning_rate": "base_lr",      # initial_lr if a scheduler set it, else lr
            "opt_adamw_beta_1": ("betas", 0),
            "opt_adamw_beta_2": ("betas", 1),
            "opt_adamw_epsilon": "eps",
            "opt_adamw_weight_decay": "weight_decay",
        }, group=0),
        **attr_values(cfg, {"global_batch_size": "global_batch_size"}),
    )
"""

from __future__ import annotations

from collections.abc import Mapping

from mlperf_submit.errors import UsageError

# torch / apex / our own optimizer class names -> the MLPerf ``opt_name`` value.
_OPT_NAMES = {
    "sgd": "sgd",
    "adamw": "adamw",
    "adam": "adam",
    "adagrad": "adagrad",
    "lamb": "lamb",
    "fusedlamb": "lamb",
    "lars": "lars",
    "fusedlars": "lars",
    "fusedadam": "adam",
    "fusedsgd": "sgd",
}


def optimizer_name(optimizer) -> str:
    """The MLPerf ``opt_name`` of an optimizer object (its class, lower-cased and mapped)."""
    cls = type(optimizer).__name__.lower()
    name = _OPT_NAMES.get(cls, cls)
    if name == "adam" and getattr(optimizer, "adam_w_mode", False):
        return "adamw"  # apex FusedAdam(adam_w_mode=True) is AdamW
    return name


# The AdamW keys every AdamW benchmark logs, and where the optimizer keeps each one
# (max_grad_norm is the field benchmarks.common.optim.add_grad_clipping puts in each group).
ADAMW_FIELDS: Mapping[str, object] = {
    "opt_base_learning_rate": "base_lr",
    "opt_adamw_beta_1": ("betas", 0),
    "opt_adamw_beta_2": ("betas", 1),
    "opt_adamw_epsilon": "eps",
    "opt_adamw_weight_decay": "weight_decay",
    "opt_gradient_clip_norm": "max_grad_norm",
}


def adamw_values(optimizer, group: int | None = None) -> dict:
    """``opt_name`` and the AdamW keys of ``ADAMW_FIELDS``, read back from ``optimizer``."""
    return {
        "opt_name": optimizer_name(optimizer),
        **optimizer_values(optimizer, ADAMW_FIELDS, group),
    }


def _group_value(group: Mapping, field, index: int):
    if isinstance(field, tuple):
        name, item = field
        try:
            return group[name][item]
        except (KeyError, IndexError, TypeError):
            raise UsageError(
                f"optimizer param_groups[{index}] has no {name}[{item}] "
                f"(it has: {', '.join(sorted(map(str, group)))})"
            ) from None
    if field == "base_lr":
        # LRScheduler stores the requested LR as initial_lr and changes lr (warmup starts low).
        if "initial_lr" in group:
            return group["initial_lr"]
        field = "lr"
    if field not in group:
        raise UsageError(
            f"optimizer param_groups[{index}] has no '{field}' "
            f"(it has: {', '.join(sorted(k for k in map(str, group) if k != 'params'))})"
        )
    return group[field]


def optimizer_values(optimizer, fields: Mapping[str, object], group: int | None = None) -> dict:
    """``{mlperf_key: value}`` read from ``optimizer.param_groups``.

    ``fields`` maps an MLPerf key to a param-group field: ``"lr"``, ``"eps"``, ``("betas", 0)``,
    or ``"base_lr"`` (``initial_lr`` when a scheduler set it, else ``lr``). With ``group=None``
    every group must agree (a group with a different weight decay is a real difference: say which
    group to log with ``group=i``).
    """
    groups = getattr(optimizer, "param_groups", None)
    if not groups:
        raise UsageError(f"{type(optimizer).__name__} has no param_groups to read values from")
    if group is not None and not 0 <= group < len(groups):
        raise UsageError(f"param group {group} does not exist (the optimizer has {len(groups)})")
    out = {}
    for key, field in fields.items():
        if group is not None:
            out[key] = _plain(_group_value(groups[group], field, group))
            continue
        values = [_plain(_group_value(g, field, i)) for i, g in enumerate(groups)]
        if any(v != values[0] for v in values[1:]):
            raise UsageError(
                f"{key}: the optimizer's param groups disagree on {field!r} ({values}); "
                "pass group=<index> to say which one is the hyperparameter"
            )
        out[key] = values[0]
    return out


def attr_values(obj, fields: Mapping[str, str]) -> dict:
    """``{mlperf_key: obj.<dotted.path>}`` from a scheduler, a config dataclass, anything."""
    out = {}
    for key, path in fields.items():
        cur = obj
        for part in path.split("."):
            if isinstance(cur, Mapping) and part in cur:
                cur = cur[part]
            elif hasattr(cur, part):
                cur = getattr(cur, part)
            else:
                raise UsageError(
                    f"{key}: {type(obj).__name__} has no {path!r} (stopped at {part!r})"
                )
        out[key] = _plain(cur)
    return out


def _plain(value):
    """A 0-d tensor / numpy scalar becomes a Python number (once, at logging time)."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value
