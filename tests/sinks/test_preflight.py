"""The check before the first write: ONE retry loop (sinks.base.preflight) for every sink.

Each test counts the requests the target saw and records the waits instead of sleeping, so the
bound "a dead target fails within seconds" is checked as arithmetic, not as a timed run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from anp_synth.errors import TargetSetupError, TransientSinkError
from anp_synth.sinks import base
from anp_synth.sinks.anp import AnpSink
from anp_synth.sinks.base import preflight

URL = "http://127.0.0.1:1"


class Clock:
    """time.monotonic/time.sleep for sinks.base: sleeping advances the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(base, "time", c)
    return c


def counting_sink(
    answer: Callable[[httpx.Request], httpx.Response],
) -> tuple[AnpSink, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return answer(request)

    return AnpSink(URL, "tok", transport=httpx.MockTransport(handler)), seen


def healthy(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/health":
        return httpx.Response(200, json={"status": "ok"})
    return httpx.Response(200, json={"items": [], "next": None})


def test_a_target_that_answers_503_is_asked_preflight_attempts_times(clock: Clock) -> None:
    sink, seen = counting_sink(lambda r: httpx.Response(503, text="<html>down</html>"))
    with pytest.raises(TargetSetupError) as info:
        preflight(sink)
    assert seen == ["/health"] * base.PREFLIGHT_ATTEMPTS
    assert f"{URL}/health: HTTP 503" in str(info.value)
    assert f"{base.PREFLIGHT_ATTEMPTS} tries" in str(info.value)
    assert sum(clock.waits) <= 3.0  # the whole wait of a dead target: seconds, not minutes


@pytest.mark.parametrize("attempts", [1, 2, 6])
def test_the_shared_loop_is_the_only_loop(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, attempts: int
) -> None:
    # the sink retries nothing itself: the number of requests follows the shared setting alone
    monkeypatch.setattr(base, "PREFLIGHT_ATTEMPTS", attempts)
    monkeypatch.setattr(base, "PREFLIGHT_BUDGET_S", 1000.0)
    sink, seen = counting_sink(lambda r: httpx.Response(502))
    with pytest.raises(TargetSetupError):
        preflight(sink)
    assert len(seen) == attempts


def test_a_reset_is_asked_again_and_a_flaky_moment_passes(clock: Clock) -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.RemoteProtocolError("peer closed", request=request)
        if calls["n"] == 3:  # /api/posts once 503 after a good /health
            return httpx.Response(503)
        return healthy(request)

    sink, seen = counting_sink(flaky)
    assert preflight(sink) == {"status": "ok"}
    assert seen == ["/health", "/health", "/api/posts", "/health", "/api/posts"]
    assert clock.waits == [0.5, 1.0]


def test_nothing_listening_and_a_wrong_answer_are_not_retried(clock: Clock) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    sink, seen = counting_sink(refused)
    with pytest.raises(TargetSetupError, match="cannot connect: nothing is listening"):
        preflight(sink)
    assert len(seen) == 1
    sink, seen = counting_sink(lambda r: httpx.Response(404, text="<h1>no</h1>"))
    with pytest.raises(TargetSetupError, match=r"not the anp import API \(HTTP 404"):
        preflight(sink)
    assert len(seen) == 1 and clock.waits == []


def test_slow_answers_stop_the_retry_at_the_budget(clock: Clock) -> None:
    def times_out(request: httpx.Request) -> httpx.Response:
        clock.now += 4.0  # each attempt waits out a 4 s read timeout
        raise httpx.ReadTimeout("slow", request=request)

    sink, seen = counting_sink(times_out)
    with pytest.raises(TargetSetupError, match="ReadTimeout"):
        preflight(sink)
    assert len(seen) == 1  # 4 s used + 0.5 s wait > the 5 s budget: no second attempt
    assert clock.now <= base.PREFLIGHT_BUDGET_S


class _Scripted:
    """A sink whose check() raises the scripted errors, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def check(self) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"version": "1"}


def test_any_sink_with_a_check_gets_the_same_retry(clock: Clock) -> None:
    flaky = _Scripted(*[TransientSinkError("HTTP 503 plugin check", 503)] * 2)
    assert preflight(flaky) == {"version": "1"}  # type: ignore[arg-type]
    assert flaky.calls == 3
    down = _Scripted(*[TransientSinkError("HTTP 503 plugin check", 503)] * 10)
    with pytest.raises(TargetSetupError, match="HTTP 503 plugin check"):
        preflight(down)  # type: ignore[arg-type]
    assert down.calls == base.PREFLIGHT_ATTEMPTS


def test_a_sink_without_a_check_is_not_asked() -> None:
    assert preflight(object()) == {}  # type: ignore[arg-type]
