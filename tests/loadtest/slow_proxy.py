"""A tiny TCP proxy on 127.0.0.1 that delays every chunk from client to server: a slower site."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class SlowProxy:
    """Forward 127.0.0.1:<port> to `upstream_port`, holding each request for `delay_s`."""

    def __init__(self, upstream_port: int, delay_s: float) -> None:
        self.upstream_port = upstream_port
        self.delay_s = delay_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
    ) -> None:
        try:
            while data := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            self._pipe(client_r, up_w, self.delay_s), self._pipe(up_r, client_w, 0.0)
        )

    def __enter__(self) -> SlowProxy:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, sock=sock), self.loop
        )
        self.server = fut.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            if self.server is not None:
                self.server.close()
                # connections still open are dropped with the loop

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
