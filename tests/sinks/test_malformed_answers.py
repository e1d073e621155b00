"""A target that answers 200 with the wrong shape gets a one-line sink error, never a traceback."""

from __future__ import annotations

import httpx
import pytest

from anp_synth.cli.importer import open_sink
from anp_synth.errors import TerminalSinkError, UsageError, WordPressSetupError
from anp_synth.generate.builder import build_post
from anp_synth.sinks.anp import AnpSink
from anp_synth.sinks.base import Page, RemotePost, iter_all
from anp_synth.sinks.wordpress import WordPressSink


def _anp(body: bytes, status: int = 200, ctype: str = "application/json") -> AnpSink:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": ctype})

    return AnpSink("http://127.0.0.1:9", "t", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "call",
    [
        lambda sink: sink.list(),
        lambda sink: sink.get("alphanode-000001"),
        lambda sink: sink.upsert(build_post(1), idempotency_key="k"),
    ],
    ids=["list", "get", "upsert"],
)
def test_anp_sink_names_a_contract_breach(call: object) -> None:
    sink = _anp(b'{"unexpected": true}')
    with pytest.raises(TerminalSinkError, match="does not follow the import contract"):
        call(sink)  # type: ignore[operator]


class _StuckSink:
    name = "stuck"

    def __init__(self) -> None:
        self.calls = 0

    def list(self, after: str | None = None, limit: int = 500) -> Page:
        self.calls += 1
        item = RemotePost("alphanode-000001", "1", "http://x/posts/a", "0" * 24)
        return Page([item], "same-cursor")


def test_a_listing_whose_cursor_does_not_move_stops() -> None:
    sink = _StuckSink()
    with pytest.raises(TerminalSinkError, match="does not advance"):
        list(iter_all(sink))  # type: ignore[arg-type]
    assert sink.calls == 2


def test_wordpress_sink_refuses_an_html_page_for_json() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b"<html>not wordpress</html>", headers={"content-type": "text/html"}
        )

    sink = WordPressSink(
        "http://127.0.0.1:9", user="u", app_password="p", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(WordPressSetupError, match="not JSON; is the target"):
        sink.get("alphanode-000001")


@pytest.mark.parametrize(
    ("sink", "target"),
    [
        ("anp", "localhost:8000"),
        ("anp", "http://[::1"),
        ("anp", "http://127.0.0.1:99999"),
        ("wordpress", "ftp://example.org"),
        ("memory", "http://127.0.0.1:8000"),
    ],
)
def test_a_bad_target_is_a_usage_error_naming_the_option(sink: str, target: str) -> None:
    with pytest.raises(UsageError, match="^target"):
        open_sink(sink, target, None)
