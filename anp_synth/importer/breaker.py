"""The circuit breaker: hold every worker back while the target keeps failing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from anp_synth.errors import TargetDownError


class CircuitBreaker:
    """Pauses every worker while the target keeps failing, and lets them go when it answers.

    After `threshold` consecutive transient failures it opens for a cooldown (doubling up
    to `max_cooldown`); the next call after the cooldown is the probe. Failing for longer
    than `max_pause` without a single success raises TargetDownError.
    """

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 1.0,
        max_cooldown: float = 15.0,
        max_pause: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        on_open: Callable[[float, float], None] | None = None,
    ) -> None:
        self.threshold, self.initial, self.max_cooldown = threshold, cooldown, max_cooldown
        self.max_pause, self.clock = max_pause, clock
        self.on_open = on_open or (lambda pause, down_for: None)
        self.cooldown = cooldown
        self.failures = 0
        self.reopen_at = 0.0
        self.failing_since: float | None = None
        self.opened = 0  # how many times it opened (for tests and debugging)
        self._cond = threading.Condition()

    @property
    def is_open(self) -> bool:
        """True while calls are being held back."""
        with self._cond:
            return self.failures >= self.threshold

    def before_call(self) -> None:
        """Block while open; raise TargetDownError when the target has been down too long."""
        with self._cond:
            while True:
                now = self.clock()
                if self.failing_since is not None and now - self.failing_since > self.max_pause:
                    raise TargetDownError(
                        f"the target kept failing for {now - self.failing_since:.0f}s "
                        f"(circuit breaker limit {self.max_pause:.0f}s); rerun to resume"
                    )
                if self.failures < self.threshold or now >= self.reopen_at:
                    return
                self._cond.wait(timeout=min(self.reopen_at - now, 1.0))

    def success(self) -> None:
        """The target answered: close."""
        with self._cond:
            self.failures = 0
            self.cooldown = self.initial
            self.failing_since = None
            self._cond.notify_all()

    def failure(self) -> None:
        """A transient failure: open after `threshold` in a row."""
        with self._cond:
            now = self.clock()
            if self.failing_since is None:
                self.failing_since = now
            self.failures += 1
            if self.failures >= self.threshold and now >= self.reopen_at:
                self.reopen_at = now + self.cooldown
                self.on_open(self.cooldown, now - self.failing_since)
                self.cooldown = min(self.cooldown * 2, self.max_cooldown)
                self.opened += 1


class Notices:
    """One line for the user per retry or pause, at most one every `every` seconds of each kind:
    a run that waits says what failed and when it tries again, without flooding the terminal."""

    def __init__(
        self,
        say: Callable[[str], None],
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.say, self.every, self.clock = say, every, clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def _due(self, kind: str) -> bool:
        with self._lock:
            now = self.clock()
            if now - self._last.get(kind, -self.every) < self.every:
                return False
            self._last[kind] = now
            return True

    def retry(self, error: str, posts: int, wait: float) -> None:
        """A request failed and is sent again after `wait` seconds."""
        if self._due("retry"):
            self.say(f"{error}; retrying {posts:,} post(s) in {wait:.1f}s")

    def pause(self, pause: float, down_for: float) -> None:
        """The circuit breaker opened: every worker waits `pause` seconds."""
        if self._due("pause"):
            self.say(
                f"the target keeps failing (for {down_for:.0f}s): every worker pauses "
                f"{pause:.0f}s, then tries again"
            )
