"""Varnish (Debian's, with vmod_xkey) running the shipped VCL in front of the real site.

The purge test: import, warm pages through Varnish, update one post through the importer
with `--purge varnish=URL`; right after the import returns, its page and every listing
showing it are MISS with the new content, while an unrelated post's page is still a HIT.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import orjson
import pytest

from anp_synth.cli import main
from anp_synth.edge.varnish import VarnishProcess, render_vcl, vcl_source
from anp_synth.importer.runlog import run_paths
from anp_synth.site.cache import TRACKING_PARAMS
from anp_synth.site.launcher import SiteProcess
from anp_synth.site.terms import slugify
from tests.site.conftest import make_post

STALE_WINDOW_S = 1.0  # the bar: every page showing the post is fresh within 1 s


def _verdict(resp: httpx.Response) -> str:
    return resp.headers.get("x-cache", "").partition(";")[0]


def _write(path: Path, posts: list[dict]) -> None:
    path.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in posts))


def _import(site: SiteProcess, edge: VarnishProcess, path: Path, ledger: Path, monkeypatch) -> int:
    monkeypatch.setenv("ANP_TARGET_TOKEN", site.token)
    argv = ["import", str(path), "--target", site.url, "--ledger", str(ledger), "--quiet"]
    return main([*argv, "--purge", f"varnish={edge.url}"])


def _pages_showing(client: httpx.Client, site: SiteProcess, post: dict) -> list[str]:
    """Every cacheable page of the origin whose keys name the post (listings and boxes)."""
    key = f"post-{post['source_id']}"
    candidates = [f"/page/{n}" for n in range(2, 5)] + ["/"]
    candidates += [f"/stack/{slugify(s)}" for s in post["meta"]["stack"]]
    candidates += [f"/tag/{slugify(t)}" for t in post["tags"]]
    shown = []
    for path in candidates:
        resp = client.get(site.url + path)
        if resp.status_code == 200 and key in resp.headers["xkey"].split():
            shown.append(path)
    return shown


def test_the_purge_test_through_varnish(
    site: SiteProcess, edge: VarnishProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [make_post(seed) for seed in range(800_000, 800_045)]
    target = posts[7]
    # A post that declares the target similar: its box shows the target's title.
    posts[8] = make_post(800_008, similar=[target["source_id"]])
    data, ledger = tmp_path / "posts.jsonl", tmp_path / "ledger.db"
    _write(data, posts)
    assert _import(site, edge, data, ledger, monkeypatch) == 0

    with httpx.Client(timeout=10) as client:
        listings = _pages_showing(client, site, target)
        assert "/" in listings or any(p.startswith("/page/") for p in listings)
        assert any(p.startswith("/tag/") for p in listings)
        showing_box = f"/posts/{posts[8]['slug']}"
        key = f"post-{target['source_id']}"
        unrelated = next(
            p
            for p in posts
            if p is not target
            and key not in client.get(f"{site.url}/posts/{p['slug']}").headers["xkey"].split()
        )
        watched = [f"/posts/{target['slug']}", showing_box, *listings]
        unrelated_path = f"/posts/{unrelated['slug']}"
        for path in [*watched, unrelated_path]:
            client.get(edge.url + path)
            warm = client.get(edge.url + path)
            assert _verdict(warm) == "HIT", (path, warm.headers)
            assert "xkey" not in warm.headers and "surrogate-key" not in warm.headers
            assert warm.headers["x-varnish"].count(" ") == 1  # two ids: a hit
            assert warm.headers["x-origin-cache"].startswith(("HIT", "MISS"))

        new_title = "retitled through the importer, purged at the edge"
        _write(data, [*posts[:7], {**target, "title": new_title}, *posts[8:]])
        assert _import(site, edge, data, ledger, monkeypatch) == 0
        returned = time.monotonic()
        after = {path: client.get(edge.url + path) for path in watched}
        still = client.get(edge.url + unrelated_path)
        checked_within = time.monotonic() - returned

    for path, resp in after.items():
        assert _verdict(resp) == "MISS", (path, resp.headers)
        assert new_title in resp.text, path
    assert _verdict(still) == "HIT"
    assert checked_within <= STALE_WINDOW_S
    log = run_paths(ledger, 2)[0]  # the second run: the update
    records = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.strip()]
    purges = [r for r in records if r.get("action") == "purge"]
    assert purges and purges[-1]["keys"] == 1  # an update in place: the post's key alone
    assert purges[-1]["dropped"] >= len(watched)


def test_members_bypass_trackers_and_analytics_cookies_do_not(
    site: SiteProcess, edge: VarnishProcess
) -> None:
    post = make_post(800_100)
    httpx.put(
        f"{site.url}/api/posts/{post['source_id']}",
        content=orjson.dumps(post),
        headers=site.auth_headers,
    ).raise_for_status()
    path = f"{edge.url}/posts/{post['slug']}"
    with httpx.Client(timeout=10) as client:
        first = client.get(path)
        assert _verdict(first) == "MISS" and first.headers["x-cache"] == "MISS; rule=post"
        tracked = client.get(path + "?utm_source=news&gclid=1", headers={"Cookie": "_ga=GA1.2"})
        assert _verdict(tracked) == "HIT"
        assert int(tracked.headers["age"]) >= 0
        member = client.get(path, headers={"Cookie": "_ga=1; anp_session =abc"})
        assert _verdict(member) == "BYPASS"
        # another query: the origin renders it fresh (no-cache), the edge does not store it
        assert _verdict(client.get(path + "?preview=1")) == "BYPASS"
        missing = [client.get(f"{edge.url}/posts/not-yet-000001") for _ in range(2)]
        assert [r.status_code for r in missing] == [404, 404]
        assert _verdict(missing[1]) == "HIT"  # a 404 is absorbed (10 s)
        bad = client.request("PURGE", edge.url + "/")
        assert bad.status_code == 400
        purged = client.request("PURGE", edge.url + "/", headers={"xkey": "404"})
        assert purged.status_code == 200 and purged.headers["x-purged"] == "1"
        assert _verdict(client.get(f"{edge.url}/posts/not-yet-000001")) == "MISS"


def test_the_vcl_strips_the_sites_tracking_parameters() -> None:
    vcl = vcl_source()
    listed = re.search(r'"\[\?&\]\((utm_\[\^=&\]\*\|[^)]+)\)', vcl)
    assert listed is not None
    names = listed.group(1).replace("utm_[^=&]*", "utm_").split("|")
    assert names == list(TRACKING_PARAMS)


def test_render_vcl_fills_backend_and_purgers() -> None:
    vcl = render_vcl("127.0.0.1:8123", ["10.0.0.0/8"])
    assert '.port = "8123";' in vcl and '"10.0.0.0"/8;' in vcl and "@" not in vcl.split("acl")[1]


def test_rollback_purges_the_edge_too(
    site: SiteProcess, edge: VarnishProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [make_post(seed) for seed in range(800_200, 800_203)]
    data, ledger = tmp_path / "posts.jsonl", tmp_path / "ledger.db"
    _write(data, posts)
    assert _import(site, edge, data, ledger, monkeypatch) == 0
    gone = f"/posts/{posts[0]['slug']}"
    with httpx.Client(timeout=10) as client:
        for path in ("/", gone):
            client.get(edge.url + path)
            assert _verdict(client.get(edge.url + path)) == "HIT"
        argv = ["rollback", "--ledger", str(ledger), "--yes", "--purge", f"varnish={edge.url}"]
        assert main(argv) == 0
        home = client.get(edge.url + "/")
        assert _verdict(home) == "MISS" and posts[0]["title"] not in home.text
        assert client.get(edge.url + gone).status_code == 404


def test_the_readme_shows_the_shipped_vcl() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- vcl:begin -->\n```vcl\n", 1)[1].split("```\n<!-- vcl:end -->")[0]
    assert shown == vcl_source()
