"""Fixtures: the real site with a real Varnish (the shipped VCL) in front of it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from anp_synth.edge.varnish import VarnishProcess, available
from anp_synth.site.launcher import SiteProcess


def need_varnish() -> None:
    """Skip without Varnish and xkey; fail under CI=true (CI installs them)."""
    if available():
        return
    message = "varnishd with vmod_xkey is not installed: bash scripts/varnish.sh install"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)  # CI installs it (.ci/run): missing there is a failure
    pytest.skip(message)


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[SiteProcess]:
    """The reference site on a fresh database, stopped by pid at the end."""
    with SiteProcess(tmp_path / "site.db") as running:
        yield running


@pytest.fixture()
def edge(site: SiteProcess, tmp_path: Path) -> Iterator[VarnishProcess]:
    """Varnish with the shipped VCL in front of `site`, on a free loopback port."""
    need_varnish()
    with VarnishProcess("127.0.0.1", int(site.port or 0), tmp_path / "varnish") as running:
        yield running
