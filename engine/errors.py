"""Errors the engine raises; every one carries a message fit to show a user."""

from __future__ import annotations

from dataclasses import dataclass, field


class LeanFlowError(Exception):
    """Base of every error the engine reports to a caller."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class LoadError(LeanFlowError):
    """A BPMN document could not be read safely (malformed, hostile or too large)."""

    def __init__(self, message: str, *, line: int | None = None, filename: str | None = None) -> None:
        where = filename or "<bpmn>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")
        self.reason = message
        self.line = line
        self.filename = filename


@dataclass(frozen=True)
class LintIssue:
    """One finding of the linter, tied to a BPMN element id."""

    severity: str  # "error" or "warning"
    code: str
    message: str
    element_id: str | None = None
    line: int | None = None


class LintError(LeanFlowError):
    """A procedure has lint errors and cannot be deployed."""

    def __init__(self, issues: list[LintIssue]) -> None:
        errors = [i for i in issues if i.severity == "error"]
        lines = [f"{i.element_id or '-'}: [{i.code}] {i.message}" for i in errors]
        super().__init__("lint failed:\n" + "\n".join(lines))
        self.issues = issues


class SandboxError(LeanFlowError):
    """Sandboxed code (script, condition, check rule) was refused or failed."""


@dataclass(frozen=True)
class FieldError:
    """A failed form validation or check rule, with the field it belongs to (if any)."""

    message: str
    field: str | None = None
    rule: str | None = None


@dataclass
class CheckFailed(LeanFlowError):
    """A step's form validation or check rules failed; nothing was changed."""

    failures: list[FieldError] = field(default_factory=list)

    def __post_init__(self) -> None:
        text = "; ".join(f"{f.field + ': ' if f.field else ''}{f.message}" for f in self.failures)
        LeanFlowError.__init__(self, "check failed: " + text)


class Conflict(LeanFlowError):
    """Someone else changed the instance or task first (optimistic concurrency)."""


class NotAllowed(LeanFlowError):
    """The actor has no right to do this."""


class NotFound(LeanFlowError):
    """The named object does not exist."""


class InvalidInput(LeanFlowError):
    """An argument the user typed is malformed."""

    exit_code = 2


class ExecutionError(LeanFlowError):
    """The process failed while running (a script or expression raised); the step was rolled back."""
