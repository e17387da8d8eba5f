"""Rules-checked MLPerf logging: the facade every benchmark and launcher uses.

    from mlperf_submit.logging import MLPerfLogger, configure, mllogger, ComplianceError

Nothing here imports torch.

    logger.py          MLPerfLogger: the API (and an example); every method goes through one _log
    singleton.py       the module-level `mllogger` and configure()
    encode.py          one :::MLLOG line, byte for byte what mlperf_logging.mllog writes
    sink.py            where lines go: the log file (rank 0) and stdout, complete and flushed
    online.py          each written line checked by the compliance engine; ComplianceError
    rules_info.py      what the logger reads from the rule files (progress unit, key order)
    intervals.py       block / epoch / eval context managers with the metadata the rules ask for
    hparams.py         hyperparameters read back from the optimizer and objects in effect
"""

from mlperf_submit.logging.hparams import (
    adamw_values,
    attr_values,
    optimizer_name,
    optimizer_values,
)
from mlperf_submit.logging.logger import MLPerfLogger
from mlperf_submit.logging.online import ComplianceError, Violation
from mlperf_submit.logging.singleton import configure, get_logger, is_configured, mllogger

__all__ = [
    "ComplianceError",
    "MLPerfLogger",
    "Violation",
    "adamw_values",
    "attr_values",
    "configure",
    "get_logger",
    "is_configured",
    "mllogger",
    "optimizer_name",
    "optimizer_values",
]
