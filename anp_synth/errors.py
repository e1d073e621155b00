"""The exception hierarchy and the exit codes, in one place.

    AnpError                      exit 1  (fatal)
    ├── UsageError                exit 2  a bad option value; names the concept (`option`)
    │   └── InputError            exit 2  a bad input file (names file, line, field)
    ├── SinkError                         raised by sinks (see sinks.base)
    │   ├── TransientSinkError            retried: timeouts, resets, 5xx, 429
    │   └── TerminalSinkError             not retried: 4xx, validation
    ├── TargetSetupError          exit 1  the target cannot take imports at all
    │   ├── TokenRefusedError     exit 1  the target refused the token (401/403)
    │   └── WordPressSetupError   exit 1  mu-plugin missing, credentials refused
    ├── TargetDownError           exit 1  the circuit breaker's pause limit ran out
    ├── SiteStartError            exit 1  the reference site did not come up
    ├── LedgerBusyError           exit 1  another live run holds the ledger
    │   └── RunTakenOverError     exit 1  this process was paused and another import took its run
    └── PartialFailure            exit 3  finished, with items quarantined or thresholds breached

    ApiError                              the reference site's non-2xx answers (an HTTP
                                          status, not an exit code; never leaves the site)

Library code only raises, and names what was wrong in the library's words
(`UsageError("target", ...)`); the CLI turns an error into one line on stderr
and an exit code in one place (`anp_synth.cli.main`), and it alone spells a
concept as its command-line option (`--target`).
"""

from __future__ import annotations

import re
from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes of every command."""

    OK = 0
    FATAL = 1
    USAGE = 2
    PARTIAL = 3
    INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as a shell reports it)
    BROKEN_PIPE = 141  # the reader of stdout went away (`| head`): 128 + SIGPIPE, silent


class AnpError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code: ExitCode = ExitCode.FATAL


class UsageError(AnpError):
    """A bad value for `option` (a concept such as "target" or "seed"), and why.

    `str()` reads "target: …"; the CLI shows it as "--target: …".
    """

    exit_code = ExitCode.USAGE

    def __init__(self, option: str | None, reason: str) -> None:
        super().__init__(f"{option}: {reason}" if option else reason)
        self.option = option
        self.reason = reason


class InputError(UsageError):
    """A bad input file; the message names the file, line and field."""

    def __init__(self, path: str, line: int | None, field: str | None, reason: str) -> None:
        where = path if line is None else f"{path}:{line}"
        what = f" field {field!r}:" if field else ""
        super().__init__(None, f"{where}:{what} {reason}")
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


class TargetSetupError(AnpError):
    """The target cannot take imports at all (not a per-post failure)."""


class TokenRefusedError(TargetSetupError):
    """The target refused the token (401/403): no write can succeed."""


class WordPressSetupError(TargetSetupError):
    """The site cannot take imports (plugin missing, credentials refused): fatal, not per post."""


class TargetDownError(AnpError):
    """The target kept failing for longer than the circuit breaker's pause limit."""


class SiteStartError(AnpError):
    """The site process exited or did not become healthy before its deadline."""


class LedgerBusyError(AnpError):
    """Another live import holds this ledger."""


class RunTakenOverError(LedgerBusyError):
    """Another import took this process's run over (its heartbeat went stale): stop, write nothing."""

    def __init__(self, run_id: int, owner: str) -> None:
        super().__init__(
            f"run {run_id} was taken over by {owner} while this import was paused (its "
            "heartbeat went stale); stopped without writing to the ledger again"
        )
        self.run_id = run_id
        self.owner = owner


class PartialFailure(AnpError):
    """The job finished, but some items were quarantined or thresholds breached."""

    exit_code = ExitCode.PARTIAL


class ApiError(Exception):
    """A reference-site API answer other than success: status, message, the field it is about."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.errors: list[dict[str, str]] = []


def option_flag(option: str) -> str:
    """The command-line spelling of a concept: "spawn_rate" → "--spawn-rate"."""
    return "--" + option.replace("_", "-")


EXCERPT_CHARS = 120  # the most of someone else's text an error message quotes
_MARKUP = re.compile(r"<[^>]*>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")  # includes ESC: no terminal escapes


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Someone else's text (an answer body, a log line) fit for a one-line message.

    No markup, no control characters, whitespace collapsed to one line, at most `limit`
    characters (cut with "…"): an error never pastes a page into the terminal.
    """
    import html  # here, not at the top: every command imports this module at start-up

    flat = " ".join(_CONTROL.sub(" ", html.unescape(_MARKUP.sub(" ", text))).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
