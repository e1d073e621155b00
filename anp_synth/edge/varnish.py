"""Varnish in front of an origin: the shipped VCL filled in, and varnishd as a subprocess.

    with VarnishProcess("127.0.0.1", site.port, workdir) as edge:
        httpx.get(edge.url + "/")              # through the edge
        httpx.request("PURGE", edge.url, headers={"xkey": "post-alphanode-000001"})

`varnishd -F` runs in a process group of its own and is stopped by that group's id (SIGTERM,
then SIGKILL); scripts/varnish.sh does the same from a shell. Needs Debian's `varnish` and
`varnish-modules` (vmod_xkey): `bash scripts/varnish.sh install`.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import time
from importlib import resources
from pathlib import Path
from typing import Self

from anp_synth.errors import SiteStartError, UsageError
from anp_synth.processes import ProcessGroup, free_port

HOST = "127.0.0.1"
VARNISHD = "varnishd"


def vcl_source() -> str:
    """The shipped VCL template (package data `anp_synth/edge/anp.vcl`)."""
    return resources.files("anp_synth.edge").joinpath("anp.vcl").read_text(encoding="utf-8")


def parse_backend(backend: str) -> tuple[str, int]:
    """`127.0.0.1:8000` or `http://127.0.0.1:8000` → (host, port); UsageError when not."""
    text = backend.removeprefix("http://").rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError("backend", f"expected HOST:PORT (e.g. 127.0.0.1:8000), got {backend!r}")
    if not all(c.isalnum() or c in ".-[]:" for c in host):
        raise UsageError("backend", f"{host!r} is not a host name or address")
    return host.strip("[]"), int(port)


def render_vcl(backend: str, purgers: list[str] | None = None) -> str:
    """The VCL with its backend and the networks allowed to PURGE (besides loopback)."""
    host, port = parse_backend(backend)
    lines = []
    for entry in purgers or []:
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise UsageError("purger", f"{entry!r} is not an address or network") from None
        lines.append(f'    "{net.network_address}"/{net.prefixlen};')
    return (
        vcl_source()
        .replace("@BACKEND_HOST@", host)
        .replace("@BACKEND_PORT@", str(port))
        .replace("@PURGERS@\n", "".join(f"{line}\n" for line in lines))
    )


def available() -> bool:
    """True when varnishd and vmod_xkey are installed."""
    if shutil.which(VARNISHD) is None:
        return False
    return any(Path(p).exists() for p in _xkey_paths())


def _xkey_paths() -> list[str]:
    return [
        "/usr/lib/x86_64-linux-gnu/varnish/vmods/libvmod_xkey.so",
        "/usr/lib/aarch64-linux-gnu/varnish/vmods/libvmod_xkey.so",
        "/usr/lib/varnish/vmods/libvmod_xkey.so",
    ]


class VarnishProcess(ProcessGroup):
    """`varnishd -F` on a free 127.0.0.1 port in front of one backend."""

    def __init__(
        self,
        backend_host: str,
        backend_port: int,
        workdir: str | Path,
        port: int | None = None,
        storage: str = "malloc,64m",
        startup_timeout: float = 30.0,
    ) -> None:
        self.backend = f"{backend_host}:{backend_port}"
        self.workdir = Path(workdir)
        super().__init__(self.workdir / "varnishd.log")  # varnishd's own output
        self.port = port
        self.storage = storage
        self.startup_timeout = startup_timeout

    @property
    def url(self) -> str:
        """Base URL of the edge, without a trailing slash."""
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        """The varnishd command line."""
        return [
            VARNISHD,
            "-F",  # foreground: the process we started is the manager, stopped by its group
            "-n",
            str(self.workdir / "instance"),
            "-a",
            f"{HOST}:{self.port}",
            "-T",
            "none",  # no management port
            # No privilege separation: the VCL and work dir may live in a private temp dir
            # (pytest's are 0700) that the `varnish` user of the unix jail cannot read.
            # scripts/varnish.sh keeps Varnish's default jail.
            "-j",
            "none",
            "-f",
            str(self.workdir / "anp.vcl"),
            "-s",
            self.storage,
            "-p",
            "default_grace=0",  # a purged or expired page is never served stale
        ]

    def start(self) -> Self:
        """Write the VCL, start varnishd, wait until it answers; SiteStartError on failure."""
        if self.process is not None:
            return self
        if not available():
            raise SiteStartError(
                "varnishd with vmod_xkey is not installed (bash scripts/varnish.sh install)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "anp.vcl").write_text(render_vcl(self.backend), encoding="utf-8")
        self.port = self.port or free_port()
        self._spawn(self.command())
        try:
            self._wait_listening()
        except SiteStartError:
            self.stop()
            raise
        return self

    def _wait_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SiteStartError(f"varnishd exited: {self.log_tail(8)}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                if sock.connect_ex((HOST, int(self.port or 0))) == 0:
                    return
            time.sleep(0.1)
        raise SiteStartError(f"varnishd not listening after {self.startup_timeout:.0f}s")
