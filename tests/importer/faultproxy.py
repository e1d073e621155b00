"""A small fault-injecting HTTP proxy for the importer's fault tests (127.0.0.1 only).

It forwards HTTP/1.1 requests (keep-alive, Content-Length bodies) to an upstream site and
spoils a seeded share of /api/ requests with one of:

    503        answered 503 without forwarding
    500-after  forwarded (the write lands), then answered 500: a lost answer
    429        answered 429 with Retry-After: 1 without forwarding
    slow       forwarded, answer held past the client's timeout
    drop       connection closed without forwarding
    drop-after forwarded, then the connection closed without an answer
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

KINDS = ("503", "500-after", "429", "slow", "drop", "drop-after")


class FaultProxy:
    """Run with `with FaultProxy(upstream_port) as proxy: ... proxy.url`."""

    prefix = b"/api/"  # only requests under this path are spoiled

    def __init__(
        self, upstream_port: int, rate: float = 0.2, seed: int = 0, slow: float = 1.5
    ) -> None:
        self.upstream_port, self.rate, self.slow = upstream_port, rate, slow
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-proxy", daemon=True
        )
        self._server: asyncio.AbstractServer | None = None
        self.enabled = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        fut.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                if task is not asyncio.current_task():
                    task.cancel()

    def _choose(self, path: bytes) -> str | None:
        if not self.enabled or not path.startswith(self.prefix) or self.rng.random() >= self.rate:
            self.counts["ok"] += 1
            return None
        kind = self.rng.choice(KINDS)
        self.counts[kind] += 1
        return kind

    @staticmethod
    async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await reader.readexactly(length) if length else b""
        return head, body

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                try:
                    head, body = await self._read_message(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                path = head.split(b" ", 2)[1]
                kind = self._choose(path)
                if kind == "drop":
                    return
                if kind == "503":
                    writer.write(_answer(503, b'{"error": "injected 503"}'))
                    await writer.drain()
                    continue
                if kind == "429":
                    writer.write(_answer(429, b'{"error": "injected 429"}', b"Retry-After: 1\r\n"))
                    await writer.drain()
                    continue
                if up is None:
                    up = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                up[1].write(head + body)
                await up[1].drain()
                rhead, rbody = await self._read_message(up[0])
                if kind == "drop-after":
                    return
                if kind == "500-after":
                    writer.write(_answer(500, b'{"error": "injected 500"}'))
                    await writer.drain()
                    continue
                if kind == "slow":
                    await asyncio.sleep(self.slow)
                writer.write(rhead + rbody)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()
            if up is not None:
                up[1].close()


def _answer(status: int, body: bytes, extra: bytes = b"") -> bytes:
    reason = {429: b"Too Many Requests", 500: b"Internal Server Error", 503: b"Service Unavailable"}
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        % (status, reason[status], len(body))
        + extra
        + b"\r\n"
        + body
    )
