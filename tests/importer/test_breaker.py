"""The circuit breaker on a fake clock."""

from __future__ import annotations

import pytest

from anp_synth.errors import TargetDownError
from anp_synth.importer.breaker import CircuitBreaker


def test_breaker_opens_after_threshold_and_closes_on_success() -> None:
    now = [0.0]
    b = CircuitBreaker(threshold=2, cooldown=1.0, max_pause=10, clock=lambda: now[0])
    b.failure()
    assert not b.is_open
    b.failure()
    assert b.is_open and b.reopen_at == 1.0
    now[0] = 1.5
    b.before_call()  # cooldown over: the probe may go
    b.failure()
    assert b.reopen_at == 3.5  # doubled cooldown
    b.success()
    assert not b.is_open
    now[0] = 20.0
    b.failure(), b.failure()
    now[0] = 31.0
    with pytest.raises(TargetDownError):
        b.before_call()
