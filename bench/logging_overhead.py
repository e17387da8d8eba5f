"""Cost of one logged event: raw ``mlperf_logging.mllog`` vs ours (check off) vs ours (strict).

    .venv/bin/python bench/logging_overhead.py [--events 20000] [--repeats 3]

All three write the same events to a log file and to stdout (stdout is sent to /dev/null for the
measurement; the file is a temp file), in one process, one after the other, best of
``--repeats``. Two workloads:

- ``rules``: eval cycles (block_start, eval_start, eval_accuracy, eval_stop, block_stop): every
  line has a rule, so strict mode evaluates CHECKs on each;
- ``free``: ``tracked_stats`` lines (no rule: strict mode parses the line and counts nothing).

It prints µs per event and the ratios; target: strict <= 2x raw mllog. It then times one
training step of the resnet ``tiny`` preset on CPU and prints the strict cost of one event as a
percentage of it (target < 0.5%; the trainer logs per block, not per step, so
the real share is lower still).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time

from mlperf_logging.mllog import mllog

from mlperf_submit.logging import MLPerfLogger


def _rules_workload(n: int):
    events = []
    i = 0
    while len(events) < n:
        i += 1
        meta = {"samples_count": i * 16}
        events += [
            ("start", "block_start", None, meta),
            ("start", "eval_start", None, meta),
            ("event", "eval_accuracy", 3.5, meta),
            ("end", "eval_stop", None, meta),
            ("end", "block_stop", None, meta),
        ]
    return events[:n]


def _free_workload(n: int):
    return [
        ("event", "tracked_stats", {"train_loss": 1.0 / (i + 1)}, {"step": i}) for i in range(n)
    ]


def _prologue(log: MLPerfLogger) -> None:
    log.submission_info(org="Bench", platform="cpu")
    log.cache_clear(True)
    log.init_start()
    log.init_stop_run_start()


def _time_ours(events, check: str, tmp: str, tag: str) -> float:
    path = os.path.join(tmp, f"ours_{check}_{tag}.log")
    log = MLPerfLogger("llama31_8b", "6.0.0", "closed", path, check=check, force=True)
    _prologue(log)
    calls = [(getattr(log, kind), key, value, meta) for kind, key, value, meta in events]
    t0 = time.perf_counter()
    for fn, key, value, meta in calls:
        fn(key, value, meta)
    elapsed = time.perf_counter() - t0
    log.finish(print_verdict=False)
    log.close()
    return elapsed / len(events) * 1e6


def _time_mllog(events, tmp: str, tag: str) -> float:
    path = os.path.join(tmp, f"mllog_{tag}.log")
    pylog = logging.getLogger(f"bench-mllog-{tag}-{time.monotonic_ns()}")
    pylog.propagate = False
    pylog.setLevel(logging.INFO)
    pylog.addHandler(logging.FileHandler(path))
    pylog.addHandler(logging.StreamHandler(sys.stdout))
    ref = mllog.MLLogger(logger=pylog)
    calls = [(getattr(ref, kind), key, value, meta) for kind, key, value, meta in events]
    t0 = time.perf_counter()
    for fn, key, value, meta in calls:
        fn(key, value, meta)
    elapsed = time.perf_counter() - t0
    for h in pylog.handlers:
        h.close()
    return elapsed / len(events) * 1e6


@contextlib.contextmanager
def _stdout_to_devnull():
    saved = sys.stdout
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        try:
            yield
        finally:
            sys.stdout = saved


def _step_ms() -> tuple[float, str]:
    """Median time of one training step of the resnet ``tiny`` preset (its model, batch and
    image size, as configured in benchmarks/resnet/config.py)."""
    import torch

    from mlperf_submit.benchmarks.resnet.config import tiny
    from mlperf_submit.benchmarks.resnet.model import ResNetSpec, build_resnet

    cfg = tiny()
    m, d = cfg.model, cfg.data
    torch.manual_seed(0)
    torch.set_num_threads(cfg.loop.threads)
    model = build_resnet(
        ResNetSpec(layers=m.layers, width=m.width, num_classes=m.num_classes, stem=m.stem)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(d.batch_size, 3, d.image_size, d.image_size)
    y = torch.randint(0, m.num_classes, (d.batch_size,))
    times = []
    for _ in range(22):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    times = sorted(times[2:])
    what = (
        f"resnet tiny preset: ResNet {'-'.join(map(str, m.layers))} width {m.width}, batch "
        f"{d.batch_size}x3x{d.image_size}x{d.image_size}, {cfg.loop.threads} thread(s)"
    )
    return times[len(times) // 2] * 1e3, what


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-step", action="store_true", help="skip the training-step timing")
    args = parser.parse_args()

    results: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp, _stdout_to_devnull():
        for tag, events in (
            ("rules", _rules_workload(args.events)),
            ("free", _free_workload(args.events)),
        ):
            for r in range(args.repeats):
                for name, fn in (
                    ("mllog", lambda e=events, t=f"{tag}{r}": _time_mllog(e, tmp, t)),
                    ("off", lambda e=events, t=f"{tag}{r}": _time_ours(e, "off", tmp, t)),
                    ("strict", lambda e=events, t=f"{tag}{r}": _time_ours(e, "strict", tmp, t)),
                ):
                    us = fn()
                    key = (tag, name)
                    results[key] = min(results.get(key, us), us)

    print(
        f"logging overhead, µs per event (best of {args.repeats} x {args.events} events; "
        "file + stdout)"
    )
    print(
        f"{'workload':<8} {'raw mllog':>10} {'ours off':>10} {'ours strict':>12} "
        f"{'off/mllog':>10} {'strict/mllog':>13}"
    )
    for tag in ("rules", "free"):
        raw, off, strict = (results[(tag, n)] for n in ("mllog", "off", "strict"))
        print(
            f"{tag:<8} {raw:>10.1f} {off:>10.1f} {strict:>12.1f} {off / raw:>10.2f} "
            f"{strict / raw:>13.2f}"
        )
    worst = max(results[(t, "strict")] / results[(t, "mllog")] for t in ("rules", "free"))
    print(
        f"target strict <= 2.00x raw mllog: worst ratio {worst:.2f}x -> "
        f"{'OK' if worst <= 2.0 else 'MISSED'}"
    )
    if not args.no_step:
        step_ms, what = _step_ms()
        strict_us = max(results[(t, "strict")] for t in ("rules", "free"))
        share = strict_us / (step_ms * 1e3) * 100
        print(
            f"one training step ({what}): {step_ms:.2f} ms; one strict event = {share:.3f}% "
            f"of it -> {'OK' if share < 0.5 else 'MISSED'} (target < 0.5%)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
