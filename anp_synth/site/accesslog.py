"""The structured access log: one JSON line per request, never a header, query string or token.

Lines are buffered and written at most every FLUSH_S seconds (or sooner when the
buffer fills): one write system call per request would cost the cached pages a
noticeable share of their throughput. `flush()` runs on a timer and at shutdown.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import orjson

FLUSH_S = 0.2
FLUSH_BYTES = 64 * 1024


class AccessLog:
    """Writes one line per request to a file descriptor (stderr by default)."""

    def __init__(self, fd: int | None = None, enabled: bool = True) -> None:
        self.fd = sys.stderr.fileno() if fd is None else fd
        self.enabled = enabled
        self._second = -1
        self._stamp = ""
        self._buffer = bytearray()
        self._flushed_at = time.monotonic()

    def write(
        self, method: str, path: str, status: int, ms: float, cache: str, rule: str, size: int
    ) -> None:
        """Log one request: method, path (without the query string), status, ms, cache outcome."""
        if not self.enabled:
            return
        now = time.time()
        second = int(now)
        if second != self._second:  # one strftime per second, not per request
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        self._buffer += orjson.dumps(
            {
                "t": self._stamp,
                "method": method,
                "path": path,
                "status": status,
                "ms": round(ms, 2),
                "cache": cache,
                "rule": rule,
                "bytes": size,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        if len(self._buffer) >= FLUSH_BYTES or time.monotonic() - self._flushed_at >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines out."""
        self._flushed_at = time.monotonic()
        if not self._buffer:
            return
        data, self._buffer = bytes(self._buffer), bytearray()
        # A closed or full log pipe must not take the site down.
        with contextlib.suppress(OSError):
            while data:
                written = os.write(self.fd, data)
                data = data[written:]
