"""The structured access log: one JSON line per request, never a header, query string or token."""

from __future__ import annotations

import contextlib
import os
import sys
import time

import orjson


class AccessLog:
    """Writes one line per request to a file descriptor (stderr by default)."""

    def __init__(self, fd: int | None = None, enabled: bool = True) -> None:
        self.fd = sys.stderr.fileno() if fd is None else fd
        self.enabled = enabled

    def write(
        self, method: str, path: str, status: int, ms: float, cache: str, rule: str, size: int
    ) -> None:
        """Log one request: method, path (without the query string), status, ms, cache outcome."""
        if not self.enabled:
            return
        line = orjson.dumps(
            {
                "t": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
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
        # A closed or full log pipe must not take the site down.
        with contextlib.suppress(OSError):
            os.write(self.fd, line)
