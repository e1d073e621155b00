"""The one rule every HTTP sink follows: which answers are worth retrying, and for how long to wait.

    transient (retried)   a transport failure (timeout, refused, reset), 408, 425, 429, 5xx
    terminal              every other status that is not a success

A transient answer carries the wait its `Retry-After` asks for (RFC 9110 §10.2.3: delay-seconds
or an HTTP-date), capped at `RETRY_AFTER_CAP`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import re
import time

import httpx

from anp_synth.errors import SinkError, TerminalSinkError, TransientSinkError, excerpt

# Statuses below 500 that say "not now" rather than "never": request timeout, too early,
# too many requests.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
# A target asking for longer than this is asked again after this long: one hostile or wrong
# header must not park an import for hours (the importer's own wait cap applies on top).
RETRY_AFTER_CAP = 300.0


def is_transient(status: int) -> bool:
    """True when an answer with this status is worth retrying."""
    return status in TRANSIENT_STATUSES or status >= 500


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or an HTTP-date), capped; else None.

    A date in the past means "now" (0.0); a value that is neither form is ignored (None).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)  # delay-seconds (a fraction is tolerated)
    except ValueError:
        pass
    else:
        return min(max(0.0, seconds), RETRY_AFTER_CAP) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT, even when written "-0000"
        when = when.replace(tzinfo=dt.UTC)
    delay = when.timestamp() - (time.time() if now is None else now)
    return min(max(0.0, delay), RETRY_AFTER_CAP)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.I | re.S)


def body_excerpt(resp: httpx.Response) -> str:
    """An answer's body for a one-line message: an HTML page by its title, else a short excerpt."""
    text = resp.text
    head = text.lstrip()[:15].lower()
    if "html" in resp.headers.get("content-type", "") or head.startswith(("<!doctype", "<html")):
        title = _TITLE.search(text)
        named = excerpt(title.group(1), 60) if title else ""
        return f"an HTML page titled {named!r}" if named else "an HTML page"
    return excerpt(text) or "(empty body)"


def status_error(status: int, message: str, retry_after_header: str | None = None) -> SinkError:
    """The sink error for a non-success status: transient (with its wait) or terminal."""
    if is_transient(status):
        return TransientSinkError(message, status, retry_after(retry_after_header))
    return TerminalSinkError(message, status)


def response_error(resp: httpx.Response, message: str) -> SinkError:
    """The sink error for a non-success answer, honouring its Retry-After header."""
    return status_error(resp.status_code, message, resp.headers.get("retry-after"))


def transport_error(exc: httpx.TransportError, what: str) -> TransientSinkError:
    """A failure before any answer came (timeout, refused, reset): always transient."""
    if isinstance(exc, httpx.TimeoutException):
        return TransientSinkError(f"{what}: timed out ({type(exc).__name__})")
    return TransientSinkError(f"{what}: {type(exc).__name__}: {exc}")
