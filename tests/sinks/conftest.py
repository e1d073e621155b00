"""Sink fixtures for the contract suite: every sink in SINK_FIXTURES must pass test_contract.py.

A new sink joins by adding a fixture here (yielding a sink on an isolated target) and its
name to SINK_FIXTURES.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from anp_synth.sinks.base import Sink
from anp_synth.sinks.memory import reset_store
from anp_synth.sinks.registry import create_sink

SINK_FIXTURES = [
    "memory_sink",
    "anp_sink",
    "wordpress_sink",
    "wordpress_direct_sink",
    "wordpress_rest_sink",
    "hugo_sink",
    "jekyll_sink",
    "eleventy_sink",
]

_names = itertools.count()


@pytest.fixture
def memory_sink() -> Iterator[Sink]:
    target = f"memory://contract{next(_names)}"
    sink = create_sink("memory", target)
    yield sink
    sink.close()
    reset_store(target)


@pytest.fixture(scope="session")
def reference_site(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real reference site, once per session, stopped by pid at the end."""
    from anp_synth.site.launcher import SiteProcess

    root: Path = tmp_path_factory.mktemp("contract-site")
    site = SiteProcess(root / "site.db")
    site.start()
    yield site
    site.stop()


@pytest.fixture
def anp_sink(reference_site) -> Iterator[Sink]:  # type: ignore[no-untyped-def]
    sink = create_sink("anp", reference_site.url, reference_site.token, timeout=10.0)
    # The site is shared by the session: start every test from an empty target.
    for rp in list(_all(sink)):
        sink.delete(rp.source_id)
    yield sink
    sink.close()


def _wordpress(wordpress, mode: str) -> Iterator[Sink]:  # type: ignore[no-untyped-def]
    from tests.wordpress.site import delete_imported

    delete_imported(wordpress)
    token = f"{wordpress.user}:{wordpress.app_password}"
    sink = create_sink("wordpress", wordpress.url, token, timeout=60.0, wp_mode=mode)
    yield sink
    sink.close()


@pytest.fixture
def wordpress_sink(wordpress) -> Iterator[Sink]:  # type: ignore[no-untyped-def]
    """The wordpress sink (bulk route, hooks) on the script's WordPress, emptied first."""
    yield from _wordpress(wordpress, "hooks")


@pytest.fixture
def wordpress_direct_sink(wordpress) -> Iterator[Sink]:  # type: ignore[no-untyped-def]
    """The wordpress sink through the bulk route in direct mode."""
    yield from _wordpress(wordpress, "direct")


@pytest.fixture
def wordpress_rest_sink(wordpress) -> Iterator[Sink]:  # type: ignore[no-untyped-def]
    """The wordpress sink through the batch/v1 fallback."""
    yield from _wordpress(wordpress, "rest")


def _static_sink(generator: str, root: Path) -> Sink:
    """A static sink on a fresh site laid out by `site init` (the real skeleton)."""
    from anp_synth.sinks.static.skeleton import init_site

    init_site(generator, root)
    return create_sink(generator, str(root))


@pytest.fixture
def hugo_sink(tmp_path: Path) -> Sink:
    return _static_sink("hugo", tmp_path / "site")


@pytest.fixture
def jekyll_sink(tmp_path: Path) -> Sink:
    return _static_sink("jekyll", tmp_path / "site")


@pytest.fixture
def eleventy_sink(tmp_path: Path) -> Sink:
    return _static_sink("eleventy", tmp_path / "site")


def _all(sink: Sink):  # type: ignore[no-untyped-def]
    from anp_synth.sinks.base import iter_all

    return iter_all(sink)


@pytest.fixture(params=SINK_FIXTURES)
def sink(request: pytest.FixtureRequest) -> Sink:
    """Each sink of SINK_FIXTURES in turn, on an empty target."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def model_checks(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every value checked by the post model from here on (Post.model_validate counted)."""
    from anp_synth.post import Post

    checks: list[object] = []
    validate = Post.model_validate

    def counting(value: object, **kw: object) -> Post:
        checks.append(value)
        return validate(value, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Post, "model_validate", counting)
    return checks
