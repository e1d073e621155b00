"""Rule 8: no page of someone else's is pasted into the terminal — an error quotes at most a
short, single-line excerpt without markup or control characters (one rule: errors.excerpt)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from anp_synth.errors import EXCERPT_CHARS, SinkError, excerpt
from anp_synth.sinks.anp import AnpSink
from anp_synth.sinks.http import body_excerpt
from tests.importer.posts import post

PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad\n Gateway</title></head>\n<body>\n"
    + "<h1>Bad Gateway</h1>\n<p>The proxy server received an invalid response.</p>\n" * 200
    + "</body></html>\n"
)


def test_an_excerpt_is_one_short_line_without_markup_or_control_characters() -> None:
    text = "first\nsecond\t\x1b[31mred\x1b[0m <b>bold</b> &amp; \x00\x85 " + "x" * 500
    got = excerpt(text)
    assert "\n" not in got and "\x1b" not in got and "\x00" not in got and "\x85" not in got
    assert "<b>" not in got and got.startswith("first second [31mred [0m bold & ")
    assert len(got) == EXCERPT_CHARS and got.endswith("…")
    assert excerpt("short") == "short"


@pytest.mark.parametrize(
    ("body", "ctype", "said"),
    [
        (PAGE, "text/html; charset=utf-8", "an HTML page titled '502 Bad Gateway'"),
        (PAGE, "text/plain", "an HTML page titled '502 Bad Gateway'"),  # sniffed, not trusted
        ("<html><body>oops</body></html>", "text/html", "an HTML page"),
        ("line one\nline two\n", "text/plain", "line one line two"),
        ("", "text/plain", "(empty body)"),
    ],
)
def test_an_answer_body_is_named_not_pasted(body: str, ctype: str, said: str) -> None:
    resp = httpx.Response(502, text=body, headers={"content-type": ctype})
    assert body_excerpt(resp) == said


class _HtmlErrors(BaseHTTPRequestHandler):
    def do_PUT(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("content-length", 0)))
        data = PAGE.encode()
        self.send_response(422)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlErrors)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_target_answering_an_html_page_gives_a_one_line_error(html_target: str) -> None:
    sink = AnpSink(html_target, token="t" * 32)
    try:
        with pytest.raises(SinkError) as caught:
            sink.upsert(post(460_001), idempotency_key="k")
    finally:
        sink.close()
    message = str(caught.value)
    assert message == "422 an HTML page titled '502 Bad Gateway'", message
