"""System description JSON checks, with ``system_desc_checker``'s verdict.

Official behaviour reproduced (docs/official-tools.md §3; ``SystemDesc.official_passed``):

- the 33 required keys (``Missing field <key>``); values are not checked, except ``status``;
- ``status`` must be one of the four availability strings when the ruleset's major version is
  >= 4. The official condition, ``major >= 4 or (major == 4 and minor >= 1)``, was meant for
  4.1+ but also rejects 4.0.x logs: a published v4.0 system with ``"available"`` fails. We give
  the same verdict and say it is the official tool's version test;
- an invalid ``status`` *replaces* the other reasons in the official message (we list them all);
- a non-string in ``submitter, system_name, host_processor_model_name, host_processor_core_count,
  accelerator_model_name, accelerators_per_node, framework`` crashes the official checker
  (``TypeError`` from ``",".join``) and with it ``package_checker``: an error here, with the fix.

Traps flagged as warnings (the official checkers accept them): ``division`` other than exactly
``closed``/``open`` (package_checker then skips the seed and RCP checks), and
``number_of_nodes``/``host_processors_per_node``/``accelerators_per_node`` that are not integer
strings (``result_summarizer`` crashes on ``int()``).

    from mlperf_submit.compliance.system_desc import check_system_json
    for f in check_system_json("org/systems/sys1.json", "6.0.0"): print(f.severity, f.message)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from mlperf_submit.compliance.findings import Finding
from mlperf_submit.compliance.inputs import MAX_JSON_BYTES
from mlperf_submit.compliance.parser import regular_file
from mlperf_submit.errors import InputError

REQUIRED_FIELDS = (
    "submitter",
    "division",
    "status",
    "system_name",
    "number_of_nodes",
    "host_processors_per_node",
    "host_processor_model_name",
    "host_processor_core_count",
    "host_processor_vcpu_count",
    "host_processor_frequency",
    "host_processor_caches",
    "host_processor_interconnect",
    "host_memory_capacity",
    "host_storage_type",
    "host_storage_capacity",
    "host_networking",
    "host_networking_topology",
    "host_memory_configuration",
    "accelerators_per_node",
    "accelerator_model_name",
    "accelerator_host_interconnect",
    "accelerator_frequency",
    "accelerator_on-chip_memories",
    "accelerator_memory_configuration",
    "accelerator_memory_capacity",
    "accelerator_interconnect",
    "accelerator_interconnect_topology",
    "cooling",
    "hw_notes",
    "framework",
    "other_software_stack",
    "operating_system",
    "sw_notes",
)
# Joined with ",".join by the official checker: anything but a string crashes it.
JOINED_FIELDS = (
    "submitter",
    "system_name",
    "host_processor_model_name",
    "host_processor_core_count",
    "accelerator_model_name",
    "accelerators_per_node",
    "framework",
)
# result_summarizer does int() on these.
COUNT_FIELDS = ("number_of_nodes", "host_processors_per_node", "accelerators_per_node")
STATUS_OPTIONS = (
    "Available on-premise",
    "Available cloud",
    "Research, Development, or Internal (RDI)",
    "Preview",
)
DIVISIONS = ("closed", "open")


@dataclass
class SystemDesc:
    """One ``systems/<name>.json`` and what the checks say about it."""

    path: str
    name: str  # file stem: what results/<name>/ refers to
    contents: dict | None
    official_passed: bool  # system_desc_checker's verdict (False when it crashes)
    official_crash: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def get(self, key: str, default=None):
        return self.contents.get(key, default) if self.contents else default

    @property
    def is_closed(self) -> bool:
        """package_checker's test: only the exact string 'closed' turns the closed checks on."""
        return self.get("division") == "closed"


def _crash(desc: SystemDesc, message: str, hint: str | None, line: int | None = None) -> SystemDesc:
    desc.official_passed = False
    desc.official_crash = message
    desc.findings.append(
        Finding("error", "crash", f"{desc.path}: {message}", file_lineno=line, hint=hint)
    )
    return desc


def _status_applies(ruleset: str) -> bool:
    try:
        major, minor = (int(p) for p in ruleset.split(".")[:2])
    except ValueError:
        return False
    return (major >= 4) or (major == 4 and minor >= 1)  # the official (over-broad) test


def load_system_desc(path: str, ruleset: str) -> SystemDesc:
    """Read and check one system JSON; never raises for bad content (findings instead)."""
    desc = SystemDesc(str(path), os.path.splitext(os.path.basename(path))[0], None, True)
    try:
        regular_file(path, "system description")  # a named pipe would block the read
        if os.path.getsize(path) > MAX_JSON_BYTES:
            return _crash(desc, f"{os.path.getsize(path) >> 20} MiB: not a system description",
                          None)  # fmt: skip
    except InputError as err:
        return _crash(desc, f"cannot read ({str(err).removeprefix(f'{path}: ')})", None)
    try:
        with open(path, encoding="utf-8") as f:
            contents = json.load(f)
    except json.JSONDecodeError as err:
        return _crash(
            desc,
            f"not valid JSON: {err.msg} (line {err.lineno} column {err.colno}); the official "
            "system_desc_checker crashes on it",
            "fix the JSON syntax (a trailing comma or a missing quote is the usual cause)",
            err.lineno,
        )
    except UnicodeDecodeError as err:
        return _crash(
            desc, f"not UTF-8 text ({err.reason} at byte {err.start})", "save the file as UTF-8"
        )
    except OSError as err:
        return _crash(desc, f"cannot read ({err.strerror})", None)
    if not isinstance(contents, dict):
        return _crash(
            desc,
            f"the top level is a JSON {type(contents).__name__}, not an object; the official "
            "checker cannot use it",
            'write one object: {"submitter": "...", "division": "closed", ...}',
        )
    desc.contents = contents
    for key in REQUIRED_FIELDS:
        if key not in contents:
            desc.official_passed = False
            desc.findings.append(
                Finding(
                    "error",
                    "system",
                    f"Missing field {key}",
                    key=key,
                    hint=f'add "{key}": "..." (an empty string is accepted)',
                )
            )
    bad = [(i, k) for i, k in enumerate(JOINED_FIELDS) if not isinstance(contents.get(k, ""), str)]
    if bad:
        i, key = bad[0]
        kind = type(contents[key]).__name__
        _crash(
            desc,
            f"field {key} is a JSON {kind}, not a string: the official system_desc_checker (and "
            f"package_checker) crash with 'TypeError: sequence item {i}: expected str instance, "
            f"{kind} found'",
            "write these values as strings: "
            + ", ".join(f'"{k}": "{contents[k]}"' for _, k in bad),
        )
    if (
        _status_applies(ruleset)
        and "status" in contents
        and contents["status"] not in STATUS_OPTIONS
    ):
        desc.official_passed = False
        message = (
            f"Field status contains a non valid value: {contents['status']}, must be one of "
            f"{list(STATUS_OPTIONS)}"
        )
        if ruleset.startswith("4.0."):
            message += (
                " (official behaviour: system_desc_checker applies the 4.1 status list to "
                "every ruleset with major version >= 4, 4.0.0 included)"
            )
        desc.findings.append(
            Finding(
                "error",
                "system",
                message,
                key="status",
                hint='use one of: "' + '", "'.join(STATUS_OPTIONS) + '"',
            )
        )
    _trap_warnings(desc, contents)
    return desc


def _trap_warnings(desc: SystemDesc, contents: dict) -> None:
    division = contents.get("division")
    if "division" in contents and division not in DIVISIONS:
        looks_closed = isinstance(division, str) and division.strip().lower() == "closed"
        desc.findings.append(
            Finding(
                "warning",
                "trap",
                f"division is {division!r}, not exactly 'closed' or 'open': package_checker "
                "treats it as not closed and silently skips the seed and RCP checks"
                + (" (it looks like closed)" if looks_closed else ""),
                key="division",
                hint='write "division": "closed" or "division": "open" (lower case)',
            )
        )
    for key in COUNT_FIELDS:
        if key not in contents:
            continue
        value = contents[key]
        try:
            ok = isinstance(value, str) and int(value) >= 0
        except ValueError:
            ok = False
        if not ok:
            desc.findings.append(
                Finding(
                    "warning",
                    "trap",
                    f"{key} is {value!r}: result_summarizer needs an integer string here "
                    "(it crashes on int() of anything else; a number works for int() but the "
                    "other official fields must be strings)",
                    key=key,
                    hint=f'write "{key}": "<count>", e.g. "1"',
                )
            )


def check_system_json(path: str, ruleset: str) -> list[Finding]:
    """Findings for one system JSON (errors decide the official verdict, warnings are traps)."""
    return load_system_desc(path, ruleset).findings
