"""Rules-checked MLPerf logging: the facade every benchmark and launcher uses.

    from mlperf_submit.logging import MLPerfLogger, configure, mllogger, ComplianceError

See ``logger.py`` for the API and an example, ``online.py`` for what is checked when, and
``progress.py`` for the block / epoch / eval metadata. Nothing here imports torch.
"""

from mlperf_submit.logging.hparams import attr_values, optimizer_name, optimizer_values
from mlperf_submit.logging.logger import MLPerfLogger
from mlperf_submit.logging.online import ComplianceError, Violation
from mlperf_submit.logging.singleton import configure, get_logger, is_configured, mllogger

__all__ = [
    "ComplianceError",
    "MLPerfLogger",
    "Violation",
    "attr_values",
    "configure",
    "get_logger",
    "is_configured",
    "mllogger",
    "optimizer_name",
    "optimizer_values",
]
