"""Distributed code that runs inside one training process: launcher environment, process group,
data parallelism and seeds (the map is in ``mlperf_submit/launch/__init__.py``). Every function is
a no-op or an identity in a single process, so callers never ask "am I distributed?"."""
