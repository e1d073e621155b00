"""The exception hierarchy and the exit codes, in one place.

    AnpError                      exit 1  (fatal)
    ├── UsageError                exit 2  bad option or argument
    │   └── InputError            exit 2  bad input file (names file, line, field)
    ├── SinkError                         raised by sinks (see sinks.base)
    │   ├── TransientSinkError            retried: timeouts, resets, 5xx, 429
    │   └── TerminalSinkError             not retried: 4xx, validation
    ├── LedgerBusyError           exit 1  another live run holds the ledger
    └── PartialFailure            exit 3  finished, with items quarantined or thresholds breached

The CLI turns these into one line on stderr and an exit code in one place
(`anp_synth.cli.main`); library code only raises.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FATAL = 1
    USAGE = 2
    PARTIAL = 3


class AnpError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code: ExitCode = ExitCode.FATAL


class UsageError(AnpError):
    """A bad option value; the message names the option."""

    exit_code = ExitCode.USAGE


class InputError(UsageError):
    """A bad input file; the message names the file, line and field."""

    def __init__(self, path: str, line: int | None, field: str | None, reason: str) -> None:
        where = path if line is None else f"{path}:{line}"
        what = f" field {field!r}:" if field else ""
        super().__init__(f"{where}:{what} {reason}")
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason


class SinkError(AnpError):
    """A target refused or failed a request."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientSinkError(SinkError):
    """Worth retrying: timeouts, connection resets, 5xx, 429."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class TerminalSinkError(SinkError):
    """Not worth retrying: 4xx, validation errors."""


class LedgerBusyError(AnpError):
    """Another live import holds this ledger."""


class PartialFailure(AnpError):
    """The job finished, but some items were quarantined or thresholds breached."""

    exit_code = ExitCode.PARTIAL
