"""``python -m mlperf_submit`` is the same as the ``mlperf-submit`` console script."""

import sys

from mlperf_submit.cli import main

sys.exit(main())
