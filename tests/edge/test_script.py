"""scripts/varnish.sh: up in front of the real site, status, stop by pid."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx

from anp_synth.edge.varnish import VarnishProcess
from anp_synth.site.launcher import SiteProcess

SCRIPT = Path(__file__).parents[2] / "scripts" / "varnish.sh"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_up_status_stop(site: SiteProcess, edge: VarnishProcess) -> None:
    # `edge` only makes sure varnishd is installed (or skips); the script starts its own.
    # Varnish's jail reads the VCL as the `varnish` user: a state dir outside pytest's 0700 tmp.
    state = Path(f"/var/tmp/anp-varnish-test-{os.getpid()}")
    env = {**os.environ, "ANP_VARNISH_STATE_DIR": str(state)}
    try:
        up = _run(env, "up", "--backend", f"127.0.0.1:{site.port}")
        assert up.returncode == 0, up.stderr
        url = up.stdout.strip()
        assert url.startswith("http://127.0.0.1:")
        status = _run(env, "status")
        assert status.returncode == 0 and url in status.stdout
        pid = int((state / "varnishd.pid").read_text())
        page = httpx.get(url + "/health", timeout=10)
        assert page.status_code == 200 and "x-varnish" in page.headers
        stop = _run(env, "stop")
        assert stop.returncode == 0
        assert not Path(f"/proc/{pid}").exists()
        assert _run(env, "status").returncode == 3
    finally:
        _run(env, "stop")
        shutil.rmtree(state, ignore_errors=True)
    assert _run(env, "up").returncode != 0  # --backend is required
