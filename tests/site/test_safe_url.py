"""safe_url: http(s) URLs and paths of the site itself pass; everything else becomes `#`."""

from __future__ import annotations

import pytest

from anp_synth.site.render import safe_url


@pytest.mark.parametrize(
    "url",
    [
        "/media/1532362346731-c9c9b64a475c.jpg",
        "/media/x-2.webp?w=1200",
        "https://example.org/a.png",
    ],
)
def test_http_urls_and_site_paths_pass(url: str) -> None:
    assert safe_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "//evil.example/x.png",  # protocol-relative: another host
        "/\\evil.example/x.png",  # browsers read a backslash as a slash
        "media/x.png",  # relative to the page: not what a post means
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "/media/x.png\x00",
    ],
)
def test_other_hosts_relative_paths_and_scripts_do_not(url: str) -> None:
    assert safe_url(url) == "#"
