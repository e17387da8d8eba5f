"""One rank of ``mlperf-submit train`` run in-process; after the command returns, print which
torch modules are still alive (before any further garbage collection). What is left here is
destroyed at interpreter exit, where a model that holds the process group crashes the process
(gloo's threads need a GIL being torn down)."""

import gc
import sys

import torch.nn as nn

from mlperf_submit.cli import main

rc = main(sys.argv[1:])
alive = sorted({type(o).__name__ for o in gc.get_objects() if isinstance(o, nn.Module)})
print(f"LEFTOVERS rc={rc} modules={','.join(alive)}", flush=True)
