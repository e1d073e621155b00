"""The purge test through a real Varnish in front of the project's WordPress.

The mu-plugin `anp-synth-keys.php` (installed by scripts/wordpress.sh beside anp-synth.php)
sends the reference site's keys on WordPress's pages. Import posts into WordPress, warm its
pages through Varnish (the shipped VCL), update one post through the importer with
`--purge varnish=URL`; right after the import returns, the post's page and every listing
showing it (home, its category and tag archives, the feed) are MISS with the new title,
while an unrelated post's page is still a HIT.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from anp_synth.cli import main
from anp_synth.edge.varnish import VarnishProcess
from anp_synth.importer.runlog import run_paths
from tests.edge.conftest import need_varnish
from tests.site.conftest import make_post
from tests.wordpress.site import WordPress, delete_imported

pytestmark = pytest.mark.wordpress
STALE_WINDOW_S = 1.0  # the bar: every page showing the post is fresh within 1 s


@pytest.fixture()
def wp_edge(wordpress: WordPress, tmp_path: Path) -> Iterator[VarnishProcess]:
    """Varnish with the shipped VCL in front of the test WordPress; its posts deleted after."""
    need_varnish()
    origin = urlsplit(wordpress.url)
    try:
        with VarnishProcess(origin.hostname or "", origin.port or 80, tmp_path / "varnish") as edge:
            yield edge
    finally:
        delete_imported(wordpress)


def _verdict(resp: httpx.Response) -> str:
    return resp.headers.get("x-cache", "").partition(";")[0]


def _import(wordpress: WordPress, edge: VarnishProcess, data: Path, ledger: Path, mp) -> int:
    mp.setenv("ANP_WP_USER", wordpress.user)
    mp.setenv("ANP_WP_APP_PASSWORD", wordpress.app_password)
    argv = ["import", str(data), "--sink", "wordpress", "--target", wordpress.url]
    return main([*argv, "--ledger", str(ledger), "--quiet", "--purge", f"varnish={edge.url}"])


def _write(path: Path, posts: list[dict]) -> None:
    path.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in posts))


def _term_paths(rest: httpx.Client, post_id: int) -> list[str]:
    """The archive pages of the post's categories (its stacks) and tags."""
    paths = []
    for taxonomy in ("categories", "tags"):
        terms = rest.get(f"/wp-json/wp/v2/{taxonomy}", params={"post": post_id}).json()
        paths += [urlsplit(t["link"]).path for t in terms]
    return paths


def test_the_purge_test_through_varnish_in_front_of_wordpress(
    wordpress: WordPress, wp_edge: VarnishProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [make_post(seed) for seed in range(810_000, 810_008)]  # all on the home page
    target = max(posts, key=lambda p: p["published_at"])  # the newest: also in the feed
    key = f"post-{target['source_id']}"
    data, ledger = tmp_path / "posts.jsonl", tmp_path / "ledger.db"
    _write(data, posts)
    assert _import(wordpress, wp_edge, data, ledger, monkeypatch) == 0

    # The edge is reached under WordPress's own host name (WP_HOME), as a public edge would be.
    host = urlsplit(wordpress.url).netloc
    with (
        httpx.Client(base_url=wordpress.url, timeout=30) as origin,
        httpx.Client(base_url=wp_edge.url, headers={"Host": host}, timeout=30) as edge,
    ):
        found = origin.get("/wp-json/wp/v2/posts", params={"source_id": target["source_id"]})
        target_id = found.json()[0]["id"]
        watched = [f"/{target['slug']}/", "/", "/feed/", *_term_paths(origin, target_id)]
        for path in watched:  # the plugin's keys: every watched page names the post
            keys = origin.get(path).headers.get("xkey", "").split()
            assert key in keys, (path, keys)
        unrelated = next(
            f"/{p['slug']}/"
            for p in posts
            if p is not target and key not in origin.get(f"/{p['slug']}/").headers["xkey"].split()
        )
        report = []  # printed at the end (`pytest -s`): the README shows it
        for path in [*watched, unrelated]:
            edge.get(path)
            warm = edge.get(path)
            assert warm.status_code == 200 and _verdict(warm) == "HIT", (path, warm.headers)
            assert "xkey" not in warm.headers and "surrogate-key" not in warm.headers
            report.append(f"warm  {_verdict(warm):5} age={warm.headers.get('age')}  {path}")

        new_title = "Retitled through the importer, purged at the edge"
        _write(data, [{**target, "title": new_title} if p is target else p for p in posts])
        assert _import(wordpress, wp_edge, data, ledger, monkeypatch) == 0
        returned = time.monotonic()

        def fetch(path: str) -> tuple[float, httpx.Response]:
            sent = time.monotonic() - returned
            return sent, edge.get(path)

        # All at once, as readers arrive: each request leaves well within the window.
        paths = [*watched, unrelated]
        with ThreadPoolExecutor(len(paths)) as pool:
            answers = dict(zip(paths, pool.map(fetch, paths), strict=True))
        answered = time.monotonic()

    for path, (sent, resp) in answers.items():
        fresh = (
            "new title" if new_title in resp.text else "unrelated" if path == unrelated else "OLD"
        )
        report.append(f"after {_verdict(resp):5} {fresh}  {path}  (sent at +{sent:.3f} s)")
    slowest = max(at for at, _ in answers.values())
    report.append(
        f"{len(answers)} pages asked within {slowest:.3f} s after the import returned, "
        f"all answered within {answered - returned:.3f} s"
    )
    for path in watched:
        sent, resp = answers[path]
        assert sent <= STALE_WINDOW_S, (path, sent)
        assert _verdict(resp) == "MISS", (path, resp.headers)
        assert new_title in resp.text, path
    assert _verdict(answers[unrelated][1]) == "HIT"
    log = run_paths(ledger, 2)[0]  # the second run: the update
    records = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.strip()]
    purges = [r for r in records if r.get("action") == "purge"]
    assert purges and purges[-1]["keys"] == 1  # an update in place: the post's key alone
    assert purges[-1]["dropped"] >= len(watched)
    report.append("run log: " + orjson.dumps({**purges[-1], "edge": "varnish=$EDGE"}).decode())
    print("\n" + "\n".join(report))
