"""``mlperf-submit preflight``: will a closed campaign of this configuration pass?

Modules:
    config_check.py    the configuration's facts: its closed problems, global batch size,
                       planned evaluations, and its init section checked under the closed rules
                       (builds the benchmark, as ``train --log-only`` does: needs torch)
    command.py         the CLI; the judgement itself is ``compliance/preflight.py`` (no torch)
"""
