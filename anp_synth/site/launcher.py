"""Start the real site as a subprocess on a free 127.0.0.1 port, and stop it by its pid.

    with SiteProcess("/tmp/x/site.db") as site:
        httpx.put(f"{site.url}/api/posts/...", headers=site.auth_headers, ...)

Used by the site's own tests, `make demo`, the importer's and the load tests' fixtures.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path
from typing import Self

import httpx

from anp_synth.errors import SiteStartError
from anp_synth.processes import ProcessGroup, free_port

HOST = "127.0.0.1"


class SiteProcess(ProcessGroup):
    """`anp-synth site serve` in a subprocess of its own process group."""

    def __init__(
        self,
        db_path: str | Path,
        port: int | None = None,
        token: str | None = None,
        users_file: str | Path | None = None,
        extra_env: dict[str, str] | None = None,
        workers: int = 1,
        log_path: str | Path | None = None,
        startup_timeout: float = 30.0,
        extra_args: list[str] | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        super().__init__(log_path or f"{self.db_path}.log")
        self.port = port
        self.token = token or secrets.token_urlsafe(32)
        self.users_file = Path(users_file) if users_file else None
        self.extra_env = dict(extra_env or {})
        self.workers = workers
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args or [])

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (also its process group id)."""
        if self.process is None:
            raise SiteStartError("the site is not running")
        return self.process.pid

    @property
    def auth_headers(self) -> dict[str, str]:
        """The Authorization header of the import API."""
        return {"Authorization": f"Bearer {self.token}"}

    def command(self) -> list[str]:
        """The command line (it carries no secret: the token goes by environment)."""
        cmd = [sys.executable, "-m", "anp_synth", "site", "serve", "--db", str(self.db_path)]
        cmd += ["--host", HOST, "--port", str(self.port), "--workers", str(self.workers)]
        if self.users_file is not None:
            cmd += ["--users", str(self.users_file)]
        return cmd + self.extra_args

    def start(self) -> Self:
        """Start the server and wait for /health; raise SiteStartError on failure."""
        if self.process is not None:
            return self
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        chosen = self.port
        for _attempt in range(3):
            self.port = chosen or free_port()
            env = {**os.environ, **self.extra_env, "ANP_SITE_TOKEN": self.token}
            process = self._spawn(self.command(), env)
            try:
                self._wait_healthy()
                return self
            except SiteStartError:
                code = process.poll()
                self.stop()
                # Another process may have taken the free port between our check and its bind.
                if (
                    chosen is None
                    and code is not None
                    and "address already in use" in self.log_tail()
                ):
                    continue
                raise
        raise SiteStartError(f"site did not start; see {self.log_path}")

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise SiteStartError(
                        f"site exited with code {self.process.returncode}: {self.log_tail()}"
                    )
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise SiteStartError(
            f"site not healthy after {self.startup_timeout:.0f}s: {self.log_tail()}"
        )
