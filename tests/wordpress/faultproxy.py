"""A fault-injecting HTTP proxy in front of the test WordPress (127.0.0.1 only).

Like tests/importer/faultproxy.py, but for `php -S`, which answers without Content-Length and
closes the connection: here every request gets a fresh upstream connection, the answer is read
to EOF, and the client connection is closed after it. A seeded share of /wp-json/ requests is
spoiled with one of KINDS (see the importer's proxy for what each one does).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

KINDS = ("503", "500-after", "429", "slow", "drop", "drop-after")


def _answer(status: int, extra: bytes = b"") -> bytes:
    body = b'{"code":"injected","message":"injected fault"}'
    return (
        b"HTTP/1.1 %d Injected\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n" % (status, len(body)) + extra + b"\r\n" + body
    )


class WordPressFaultProxy:
    """`with WordPressFaultProxy(port, rate=0.25) as proxy:` … `proxy.url` …"""

    def __init__(self, upstream_port: int, rate: float, seed: int, slow: float) -> None:
        self.upstream_port, self.rate, self.slow = upstream_port, rate, slow
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.enabled = True
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WordPressFaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
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
        if not self.enabled or not path.startswith(b"/wp-json/") or self.rng.random() >= self.rate:
            self.counts["ok"] += 1
            return None
        kind = self.rng.choice(KINDS)
        self.counts[kind] += 1
        return kind

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            kind = self._choose(head.split(b" ", 2)[1])
            if kind == "drop":
                return
            if kind in ("503", "429"):
                extra = b"Retry-After: 1\r\n" if kind == "429" else b""
                writer.write(_answer(int(kind), extra))
                await writer.drain()
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            try:
                up_writer.write(head + body)
                await up_writer.drain()
                reply = await asyncio.wait_for(up_reader.read(), timeout=120)  # to EOF
            finally:
                up_writer.close()
            if kind == "drop-after":
                return
            if kind == "500-after":
                writer.write(_answer(500))
            else:
                if kind == "slow":
                    await asyncio.sleep(self.slow)
                writer.write(reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        except asyncio.CancelledError:
            return
        finally:
            writer.close()
