"""Run the official compliance checker in-process (for differential tests).

The official checker re-reads each YAML rule file with PyYAML's pure-Python BaseLoader for every
log, which dominates its run time. Here ``yaml.load`` inside the official module is served from
a cache keyed by the file's path: the rules and the code evaluating them are the official ones,
only re-reading identical files is skipped. Exceptions the official tool would let escape (its
tracebacks) are returned as ``"crash"``.
"""

from __future__ import annotations

import logging
import types

import yaml
from mlperf_logging.compliance_checker import mlp_compliance

_cache: dict[str, object] = {}


def _cached_load(stream, Loader=None):  # noqa: N803 - mirrors yaml.load's signature
    name = getattr(stream, "name", None)
    if name is None:
        return yaml.load(stream, Loader=Loader)
    if name not in _cache:
        _cache[name] = yaml.load(stream, Loader=Loader)
    return _cache[name]


_yaml_proxy = types.SimpleNamespace(load=_cached_load, BaseLoader=yaml.BaseLoader)


def official_verdict(path: str, ruleset: str, usage: str = "training") -> str:
    """'pass', 'fail' or 'crash' (a traceback in the official CLI)."""
    mlp_compliance.yaml = _yaml_proxy
    mlp_compliance.enqueued_configs.clear()
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        checker = mlp_compliance.make_checker(usage, ruleset, False, False)
        valid, *_ = mlp_compliance.main(path, f"{usage}_{ruleset}/common.yaml", checker)
        return "pass" if valid else "fail"
    except Exception:
        return "crash"
    finally:
        mlp_compliance.enqueued_configs.clear()
        logging.disable(previous)


def official_messages(path: str, ruleset: str, usage: str = "training") -> tuple[str, list[str]]:
    """The verdict ('pass', 'fail', 'crash') and the error messages the official checker keeps
    (keyed ones that no later rule file discarded, then the un-keyed ones; warnings left out)."""
    mlp_compliance.yaml = _yaml_proxy
    mlp_compliance.enqueued_configs.clear()
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        checker = mlp_compliance.make_checker(usage, ruleset, False, False)
        valid, *_ = mlp_compliance.main(path, f"{usage}_{ruleset}/common.yaml", checker)
        messages = [*checker.overwritable.values(), *checker.not_overwritable]
        return ("pass" if valid else "fail"), messages
    except Exception as err:
        return "crash", [f"{type(err).__name__}: {err}"]
    finally:
        mlp_compliance.enqueued_configs.clear()
        logging.disable(previous)
