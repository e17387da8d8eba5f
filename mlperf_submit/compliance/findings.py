"""What a compliance check says: one message (``Finding``) and a file's verdict (``CheckResult``).

These are the result types every checker in ``compliance/`` and ``submission/`` returns; they
carry no rule logic, so code that only reports results imports them without the rules engine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Finding:
    """One message about a log. ``message`` uses the official wording where there is one."""

    severity: str  # "error" | "warning"
    kind: str  # check | exec | req | target | alternatives | end | parse | crash | config | trap
    message: str
    key: str | None = None
    config: str | None = None
    lineno: int | None = None  # official 0-based MLLOG index
    file_lineno: int | None = None  # real 1-based line in the file
    rule: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def short(self) -> str:
        """First line of the message, for one-line summaries."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else self.kind
        if self.kind == "check" and self.rule:
            first = f"CHECK for '{self.key}' failed: {self.rule.strip()}"
        elif self.kind == "exec" and self.rule:
            first = f"rule code for '{self.key}' raised: {self.rule.strip()}"
        return first


@dataclass
class CheckResult:
    passed: bool
    errors: list[Finding]
    warnings: list[Finding]
    official_crash: str | None
    configs: list[str]
    crash_finding: Finding | None = None

    def official_messages(self) -> list[str]:
        """The messages the official checker would print, in its order."""
        return [f.message for f in (*self.warnings, *self.errors)]
