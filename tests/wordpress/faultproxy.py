"""A fault-injecting HTTP proxy in front of the test WordPress (127.0.0.1 only).

Like tests/importer/faultproxy.py, but for nginx + php-fpm, whose answers are chunked: here every
request gets a fresh upstream connection asked to close (`Connection: close`), the answer is
read to EOF, and the client connection is closed after it. A seeded share of /wp-json/ requests is
spoiled with one of the importer's proxy's KINDS (see there for what each one does).
"""

from __future__ import annotations

import asyncio

from tests.importer.faultproxy import FaultProxy


def _answer(status: int, extra: bytes = b"") -> bytes:
    body = b'{"code":"injected","message":"injected fault"}'
    return (
        b"HTTP/1.1 %d Injected\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n" % (status, len(body)) + extra + b"\r\n" + body
    )


def _closing(head: bytes) -> bytes:
    """The request head with `Connection: close` (the answer then ends at EOF)."""
    lines = [
        line
        for line in head.rstrip(b"\r\n").split(b"\r\n")
        if not line.lower().startswith(b"connection:")
    ]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


class WordPressFaultProxy(FaultProxy):
    """`with WordPressFaultProxy(port, rate=0.1, seed=3, slow=6.0) as proxy:` … `proxy.url` …"""

    prefix = b"/wp-json/"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head, body = await self._read_message(reader)
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
                up_writer.write(_closing(head) + body)
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
