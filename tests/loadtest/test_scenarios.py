"""The locustfiles' own logic, run in a subprocess (importing locust patches the process with gevent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LOADTESTS = Path(__file__).resolve().parents[2] / "anp_synth" / "loadtest" / "locustfiles"

SCRIPT = r"""
import json, random, sys, time, types
sys.path.insert(0, sys.argv[1])
import anp_support as anp

out = {}
posts = [
    {"url": "/posts/popular", "view_count": 1000, "stacks": ["rust"]},
    {"url": "/posts/middle", "view_count": 100, "stacks": ["rust"]},
    {"url": "/posts/unread", "view_count": 0, "stacks": ["go"]},
]
data = anp.Data({"posts": posts, "stacks": [{"slug": "rust", "count": 45}], "tags": []}, 20, 0.3)
anp.DATA = data
random.seed(7)
counts = {}
for _ in range(40000):
    url = data.pick_post()["url"]
    counts[url] = counts.get(url, 0) + 1
out["picks"] = counts
out["stack_pages"] = data.stacks
out["same_stack"] = sorted({data.same_stack(posts[0]) for _ in range(200)})

class Resp:
    text = '<p>Similar Posts</p><ul><li><a href="/posts/a">a</a></li><li><a href="/posts/b">b</a></li></ul>'
user = types.SimpleNamespace()
out["similar"] = sorted({anp.AnpUser.similar_url(user, Resp(), posts[0]) for _ in range(100)})
class Plain:
    text = '<p>no section here</p><a href="/posts/x">x</a>'
out["similar_fallback"] = sorted({anp.AnpUser.similar_url(user, Plain(), posts[2]) for _ in range(50)})

pacer = anp.Pacer(100.0)
t0 = time.time()
slots = [pacer.slot() for _ in range(5)]
out["slot_gaps"] = [round(b - a, 6) for a, b in zip(slots, slots[1:])]
out["pacer_waited"] = time.time() - t0

rec = anp.Recorder()
rec.directory = sys.argv[2]
headers = {"X-Cache": "HIT; rule=post"}
rec.on_request(name="/posts/[slug]", response_time=12.5, response=types.SimpleNamespace(headers=headers),
               context={"intended": 1000.0}, exception=None, start_time=1000.05)
rec.on_request(name="/search", response_time=3.0, response=None, context={}, exception=ValueError("x"),
               start_time=1001.0)
rec.flush()

class H(dict):
    def get(self, k, d=None):
        return {kk.lower(): v for kk, v in self.items()}.get(k.lower(), d)
anp.RULES[:] = anp.cache_rules.parse(json.loads(sys.argv[3]), "rules")
def problem(headers, logged_in, path=""):
    return anp.cache_problem(types.SimpleNamespace(headers=H(headers)), logged_in=logged_in, path=path)
hit = {"X-Cache": "HIT; rule=post", "Cache-Control": "public, max-age=0, s-maxage=300, must-revalidate", "ETag": '"e"'}
out["checks"] = {
    "hit_ok": problem(hit, False),
    "hit_logged_in": problem(hit, True),
    "no_header": problem({}, False),
    "bad_header": problem({"X-Cache": "HIT"}, False),
    "hit_no_etag": problem({**hit, "ETag": ""}, False),
    "hit_private": problem({**hit, "Cache-Control": "private, max-age=60"}, False),
    "bypass_ok": problem({"X-Cache": "BYPASS; rule=search", "Cache-Control": "no-store"}, False),
    "bypass_cacheable": problem({"X-Cache": "BYPASS; rule=search", "Cache-Control": "public, max-age=60"}, False),
    "member_ok": problem({"X-Cache": "BYPASS; rule=post", "Cache-Control": "private, no-store"}, True),
    "member_public": problem({"X-Cache": "BYPASS; rule=post", "Cache-Control": "no-cache"}, True),
    "rule_ok": problem(hit, False, "/posts/x"),
    "rule_wrong": problem(hit, False, "/tag/x"),
    "search_cached": problem({"X-Cache": "HIT; rule=search", "Cache-Control": "public, max-age=9", "ETag": "e"}, False, "/search?q=a"),
    "post_not_cached": problem({"X-Cache": "BYPASS; rule=post", "Cache-Control": "no-store"}, False, "/posts/x"),
    "query_cached": problem(hit, False, "/posts/x?utm=1"),
    "query_bypass_ok": problem({"X-Cache": "BYPASS; rule=post", "Cache-Control": "no-cache"}, False, "/posts/x?utm=1"),
}
out["names"] = sorted(n.decode() for n in anp.shown_names({"username": "ob", "display_name": "O'Brien & Co"}))
print(json.dumps(out))
"""


def run_script(tmp_path: Path) -> dict:
    from anp_synth.loadtest.cache_rules import site_rules

    rules = json.dumps([rule.as_json() for rule in site_rules()])  # what export-targets writes
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(LOADTESTS), str(tmp_path), rules],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_scenario_logic(tmp_path: Path) -> None:
    out = run_script(tmp_path)
    picks = out["picks"]
    # proportional to view count (+1 so that an unread post can still be read)
    assert abs(picks["/posts/popular"] / 40000 - 1001 / 1103) < 0.01
    assert abs(picks["/posts/middle"] / 40000 - 101 / 1103) < 0.01
    assert picks.get("/posts/unread", 0) < 100
    assert out["stack_pages"] == [["rust", 3]]  # 45 posts, 20 a page
    assert out["same_stack"] == ["/posts/middle", "/posts/popular"]
    assert out["similar"] == ["/posts/a", "/posts/b"]
    assert out["similar_fallback"] == ["/posts/unread"]
    assert all(abs(gap - 0.01) < 1e-6 for gap in out["slot_gaps"])
    assert out["pacer_waited"] >= 0.035  # it waited for the slots it handed out

    assert out["names"] == ["O&#39;Brien &amp; Co", "O&#x27;Brien &amp; Co", "O'Brien & Co", "ob"]

    checks = out["checks"]
    assert checks["hit_ok"] is None and checks["bypass_ok"] is None and checks["member_ok"] is None
    assert "shared cache" in checks["hit_logged_in"]
    assert checks["no_header"] == "no X-Cache header"
    assert "not 'HIT|MISS|BYPASS; rule=NAME'" in checks["bad_header"]
    assert "no ETag" in checks["hit_no_etag"]
    assert "private" in checks["hit_private"]
    assert "lets caches keep it" in checks["bypass_cacheable"]
    assert "not private/no-store" in checks["member_public"]
    assert checks["rule_ok"] is None and checks["query_bypass_ok"] is None
    assert "the site's rules say tag" in checks["rule_wrong"]
    assert "never cached" in checks["search_cached"]
    assert "was not cached" in checks["post_not_cached"]
    assert "query string must bypass" in checks["query_cached"]


def test_recorded_samples_read_back_exactly(tmp_path: Path) -> None:
    from anp_synth.loadtest.stats import read_samples

    run_script(tmp_path)
    samples = {s.route: s for s in read_samples(tmp_path)}
    post = samples["/posts/[slug]"]
    assert post.ms == 12.5 and post.ok and post.cache == "HIT"
    # sent 50 ms after its slot: corrected latency 62.5 ms, and late (> 10 ms)
    assert post.corrected_ms == 62.5 and post.late
    search = samples["/search"]
    assert not search.ok and search.cache == "none" and search.corrected_ms is None
