"""Deterministic mutations of real logs, for differential tests against the official checker.

``mutation(i, bases)`` returns the i-th mutation: (name, bytes of the mutated log, ruleset to
check it with). The same i always gives the same bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

TOKEN = ":::MLLOG "

# rulesets that exist in mlperf-logging 4.1.68 (for the "wrong ruleset" mutation)
RULESETS = ["3.1.0", "4.0.0", "4.1.0", "5.0.0", "5.1.0", "6.0.0", "6.1.0"]
OTHER_KEYS = [
    "run_start",
    "run_stop",
    "init_start",
    "init_stop",
    "eval_accuracy",
    "global_batch_size",
    "submission_benchmark",
    "submission_division",
    "cache_clear",
    "opt_name",
    "seed",
    "block_start",
    "epoch_num",
    "train_samples",
    "eval_samples",
    "not_a_rule_key",
]


@dataclass
class Base:
    path: Path
    ruleset: str
    lines: list[str]  # text lines (latin-1), with their line endings

    @property
    def mllog_idx(self) -> list[int]:
        return [i for i, line in enumerate(self.lines) if TOKEN in line]


def load_base(path: Path, ruleset: str) -> Base:
    text = path.read_bytes().decode("latin-1")
    return Base(path, ruleset, text.splitlines(keepends=True))


def _split(line: str) -> tuple[str, dict | None, str]:
    pos = line.rfind(TOKEN)
    body = line[pos + len(TOKEN) :]
    end = "\n" if body.endswith("\n") else ""
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    return line[: pos + len(TOKEN)], obj if isinstance(obj, dict) else None, end


def _join(prefix: str, obj: dict, end: str) -> str:
    return prefix + json.dumps(obj) + end


def _new_value(rng: random.Random, v):
    choices = [
        lambda: None,
        lambda: "",
        lambda: "x",
        lambda: 0,
        lambda: -1,
        lambda: [1, 2],
        lambda: {"a": 1},
        lambda: True,
        lambda: 1e-9,
    ]
    if isinstance(v, bool):
        choices.append(lambda: not v)
    elif isinstance(v, (int, float)):
        choices += [lambda: v * 2, lambda: v + 1, lambda: v / 2, lambda: -v, lambda: v * 0.999]
    elif isinstance(v, str):
        choices += [
            lambda: v + "x",
            lambda: v.upper(),
            lambda: "closed",
            lambda: "open",
            lambda: "llama3_8b",
            lambda: "sgd",
            lambda: "lars",
            lambda: "adamw",
        ]
    return rng.choice(choices)()


def _mutate_json(rng, lines, idx, fn) -> bool:
    prefix, obj, end = _split(lines[idx])
    if obj is None:
        return False
    fn(obj)
    lines[idx] = _join(prefix, obj, end)
    return True


def mutate(base: Base, i: int) -> tuple[str, bytes, str]:
    rng = random.Random(i)
    lines = list(base.lines)
    ml = base.mllog_idx
    ruleset = base.ruleset
    ops = [
        "drop",
        "dup_same",
        "dup_diff",
        "change_value",
        "swap",
        "corrupt_json",
        "truncate",
        "garbage",
        "binary",
        "wrong_ruleset",
        "remove_field",
        "metadata",
        "rename_key",
        "prefix",
        "crlf",
        "time",
        "move",
        "drop_key_all",
    ]
    op = ops[i % len(ops)] if i < len(ops) * 4 else rng.choice(ops)
    if not ml:
        op = "garbage"
    j = rng.choice(ml) if ml else 0
    if op == "drop":
        del lines[j]
    elif op == "dup_same":
        lines.insert(j + rng.randint(0, 3), lines[j])
    elif op == "dup_diff":
        prefix, obj, end = _split(lines[j])
        if obj is not None and "value" in obj:
            obj["value"] = _new_value(rng, obj["value"])
            lines.insert(min(len(lines), j + rng.randint(1, 5)), _join(prefix, obj, end))
    elif op == "change_value":
        _mutate_json(
            rng, lines, j, lambda o: o.__setitem__("value", _new_value(rng, o.get("value")))
        )
    elif op == "swap":
        k = rng.choice(ml)
        lines[j], lines[k] = lines[k], lines[j]
    elif op == "move":
        line = lines.pop(j)
        lines.insert(rng.randint(0, len(lines)), line)
    elif op == "corrupt_json":
        line = lines[j]
        pos = rng.randint(line.rfind(TOKEN) + len(TOKEN), max(len(line) - 2, 0))
        how = rng.randint(0, 3)
        if how == 0:
            lines[j] = line[:pos] + line[pos + 1 :]
        elif how == 1:
            lines[j] = line[:pos] + "\n"
        elif how == 2:
            lines[j] = line[:pos] + rng.choice(['"', "{", "}", ",", "]", "NaN", "\\"]) + line[pos:]
        else:
            lines[j] = line.rstrip("\n") + " trailing\n"
    elif op == "truncate":
        data = "".join(lines).encode("latin-1")
        return op, data[: rng.randint(0, len(data))], ruleset
    elif op in ("garbage", "binary"):
        if op == "binary":
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
            if rng.random() < 0.5:
                junk = TOKEN.encode() + junk
            text = junk.decode("latin-1") + "\n"
        else:
            text = rng.choice(
                [
                    TOKEN + "\n",
                    TOKEN + "{}\n",
                    TOKEN + "[]\n",
                    TOKEN + "5\n",
                    TOKEN + '"s"\n',
                    TOKEN + "null\n",
                    "garbage line\n",
                    TOKEN + TOKEN + "{\n",
                    TOKEN + '{"time_ms": "1.2.3", "key": "x", "value": 1, "metadata": {}}\n',
                    TOKEN + '{"time_ms": null, "key": "x", "value": 1, "metadata": {}}\n',
                    TOKEN + '{"time_ms": 1, "key": ["l"], "value": 1, "metadata": {}}\n',
                    TOKEN
                    + '{"time_ms": 1, "key": "eval_accuracy", "value": "NaN", "metadata": 7}\n',
                    TOKEN + '{"time_ms": 1, "key": "x", "value": NaN, "metadata": {}}\n',
                    "\x00\x01\x02"
                    + TOKEN
                    + '{"time_ms": 1, "key": "y", "value": 1, "metadata": {}}\n',
                ]
            )
        lines.insert(rng.randint(0, len(lines)), text)
    elif op == "wrong_ruleset":
        ruleset = rng.choice([r for r in RULESETS if r != base.ruleset])
    elif op == "remove_field":
        field = rng.choice(["time_ms", "key", "value", "metadata", "namespace", "event_type"])
        _mutate_json(rng, lines, j, lambda o: o.pop(field, None))
    elif op == "metadata":

        def fn(o):
            md = o.get("metadata")
            if isinstance(md, dict) and md:
                k = rng.choice(sorted(md))
                if rng.random() < 0.5:
                    md.pop(k)
                else:
                    md[k] = _new_value(rng, md[k])
            else:
                o["metadata"] = rng.choice([None, [], "s", {"epoch_num": 1}])

        _mutate_json(rng, lines, j, fn)
    elif op == "rename_key":
        _mutate_json(rng, lines, j, lambda o: o.__setitem__("key", rng.choice(OTHER_KEYS)))
    elif op == "prefix":
        pre = rng.choice(["[1,0]<stdout>:", "0: ", "   ", "INFO 12:00 ", TOKEN])
        lines = [pre + line if TOKEN in line else line for line in lines]
    elif op == "crlf":
        sep = rng.choice(["\r\n", "\r"])
        lines = [line.rstrip("\n") + sep for line in lines]
    elif op == "time":

        def fn(o):
            if isinstance(o.get("time_ms"), (int, float)):
                o["time_ms"] = o["time_ms"] + rng.choice([-1, 1]) * rng.choice(
                    [1, 1000, 3.6e6, 1e9]
                )

        _mutate_json(rng, lines, j, fn)
    elif op == "drop_key_all":
        _, obj, _ = _split(lines[j])
        key = obj.get("key") if obj else None
        lines = [line for line in lines if not (TOKEN in line and f'"key": "{key}"' in line)]
    return op, "".join(lines).encode("latin-1"), ruleset
