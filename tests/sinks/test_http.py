"""The one HTTP rule of every sink: status → transient or terminal, Retry-After in both forms."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from anp_synth.errors import TerminalSinkError, TransientSinkError
from anp_synth.sinks.http import (
    RETRY_AFTER_CAP,
    is_transient,
    response_error,
    retry_after,
    status_error,
    transport_error,
)

NOW = 1_800_000_000.0  # a fixed clock: no test depends on the time it runs


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (413, False),
        (422, False),
        (408, True),
        (425, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
    ],
)
def test_the_status_table(status: int, transient: bool) -> None:
    assert is_transient(status) is transient
    err = status_error(status, f"{status} said no")
    assert isinstance(err, TransientSinkError if transient else TerminalSinkError)
    assert not isinstance(err, TerminalSinkError if transient else TransientSinkError)
    assert (err.status, str(err)) == (status, f"{status} said no")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (str(10 * int(RETRY_AFTER_CAP)), RETRY_AFTER_CAP),
    ],
)
def test_retry_after_in_delay_seconds(value: str, seconds: float) -> None:
    assert retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    ("offset", "seconds"),
    [(30, 30.0), (0, 0.0), (-3600, 0.0), (10 * RETRY_AFTER_CAP, RETRY_AFTER_CAP)],
)
def test_retry_after_as_an_http_date(offset: float, seconds: float) -> None:
    date = email.utils.formatdate(NOW + offset, usegmt=True)  # "Wed, 15 Jan 2027 08:00:30 GMT"
    assert date.endswith(" GMT")
    assert retry_after(date, now=NOW) == seconds


def test_retry_after_ignores_what_is_neither_form() -> None:
    for value in (None, "", "soon", "nan", "inf", "Someday, 99 Foo 20 GMT"):
        assert retry_after(value, now=NOW) is None, value


def test_a_response_error_carries_the_wait_it_asked_for() -> None:
    # Dates far from any clock give exact answers: a day ahead is the cap, a year ago is now.
    far_ahead = email.utils.formatdate(NOW + 86_400 * 365 * 30, usegmt=True)
    long_ago = "Sun, 06 Nov 1994 08:49:37 GMT"  # RFC 9110's own example
    for header, expected in (("7", 7.0), (far_ahead, RETRY_AFTER_CAP), (long_ago, 0.0)):
        err = response_error(httpx.Response(503, headers={"Retry-After": header}), "busy")
        assert isinstance(err, TransientSinkError) and err.status == 503
        assert err.retry_after == expected, header
    refused = response_error(httpx.Response(404, headers={"Retry-After": "7"}), "gone")
    assert isinstance(refused, TerminalSinkError) and refused.status == 404


def test_transport_errors_are_transient_and_say_what_failed() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:9/")
    slow = transport_error(httpx.ReadTimeout("slow", request=request), "lookup")
    assert isinstance(slow, TransientSinkError) and slow.status is None
    assert str(slow) == "lookup: timed out (ReadTimeout)"
    reset = transport_error(httpx.RemoteProtocolError("peer closed", request=request), "write")
    assert str(reset) == "write: RemoteProtocolError: peer closed"
