"""The importer's fault tests against a real WordPress, with a smaller count than on the
reference site: kill -9 and rerun, a lost ledger, rollback; verify and status through the CLI.

Which write path each test runs through (the three cost ~3x the CI time, and most of these
guarantees do not depend on the path):
- kill -9, injected faults, rollback, verify: `--wp-mode hooks` (the default) only. What they
  guard is the bulk route's call-level machinery, one code path for both bulk modes
  (anp_synth_bulk_locked in the mu-plugin: named locks, one transaction per call with the
  stored answer, Idempotency-Key replay) and the importer's ledger. The per-mode parts are
  covered per mode elsewhere: the write itself, the previous version rollback restores, an
  unchanged post, upsert by source id (tests/sinks/test_contract.py and tests/wordpress/
  test_sink.py, once per mode); a replayed key gets the first answer (test_bulk.py, both bulk
  modes); a lost ledger (below, every mode); rollback of an update in each mode
  (test_rollback_restores_an_update_in_each_mode, below).
- a lost ledger and the per-mode rollback: every mode, hooks, direct and rest (batch/v1).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from anp_synth.generate.builder import PostBuilder
from anp_synth.importer.ledger import Ledger, RunState
from anp_synth.jsonl import content_hash, dumps_line
from anp_synth.sinks.base import iter_all
from anp_synth.sinks.wordpress import WordPressSink
from tests.importer.test_faults import created_in, progress_kill
from tests.wordpress.site import ROOT, WordPress

pytestmark = pytest.mark.wordpress
# The call-level guarantees, through one bulk mode (see the module docstring).
HOOKS_ONLY = pytest.mark.parametrize("wp_mode", ["hooks"])
BUILDER = PostBuilder()
KILL_COUNT = 200  # posts in the kill -9 test (5,000 on the reference site)


def _write(path: Path, posts: list[dict[str, Any]]) -> Path:
    with path.open("wb") as fh:
        for post in posts:
            fh.write(dumps_line(post))
    return path


def _env(site: WordPress) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ANP_TARGET_TOKEN", None)
    env.update(
        ANP_WP_URL=site.url,
        ANP_WP_USER=site.user,
        ANP_WP_APP_PASSWORD=site.app_password,
        COLUMNS="200",
    )
    return env


def _cli(site: WordPress, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anp_synth", *args],
        cwd=ROOT,
        env=_env(site),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _import_args(site: WordPress, data: Path, ledger: Path, mode: str = "hooks") -> list[str]:
    return [
        "import",
        str(data),
        "--sink",
        "wordpress",
        "--target",
        site.url,
        "--ledger",
        str(ledger),
        "--wp-mode",
        mode,
    ]


def _on_site(sink: WordPressSink, block: int) -> Counter[tuple[str, str]]:
    """(source id, hash) of the imported posts of this seed block (seeds block … block+999) on
    the site, counted (a duplicate shows as 2). Each test owns one block, so a post another
    test left behind cannot blur the count."""
    prefix = f"alphanode-{block // 1000:03d}"
    return Counter(
        (r.source_id, r.hash)
        for r in iter_all(sink, page_size=100)
        if r.source_id.startswith(prefix)
    )


def _expected(posts: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((p["source_id"], content_hash(p)) for p in posts)


def _run_and_kill(site: WordPress, args: list[str], kill_when: Callable[[float], bool]) -> bool:
    """Run `anp-synth ARGS`; SIGKILL it once kill_when(elapsed) holds. True when killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "anp_synth", *args],
        cwd=ROOT,
        env=_env(site),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            assert elapsed < 180, "an import ran past 180 s"
            if kill_when(elapsed):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                return True
            time.sleep(0.01)
        return False
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


@HOOKS_ONLY
def test_kill_9_at_random_points_then_rerun_gives_each_post_once(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str, tmp_path: Path
) -> None:
    posts = [BUILDER.build(seed) for seed in range(920000, 920000 + KILL_COUNT)]
    data = _write(tmp_path / "posts.jsonl", posts)
    ledger = tmp_path / "ledger.sqlite"
    # Calls of 10 posts: a bulk call of 200 would finish the import before a kill could land.
    args = [*_import_args(wordpress, data, ledger, wp_mode), "--batch-size", "10"]
    rng = random.Random(6)
    kills = 0
    # One kill by time (start-up), then by progress: mid-import, after this run confirmed some.
    early = rng.uniform(0.3, 0.8)
    kills += _run_and_kill(wordpress, args, lambda t: t >= early)
    for threshold in sorted(rng.sample(range(1, KILL_COUNT - 40), 3)):
        kills += _run_and_kill(wordpress, args, progress_kill(ledger, threshold))
    assert kills >= 3, "the import finished before it could be killed: raise KILL_COUNT"
    final = _cli(wordpress, *args)
    assert final.returncode == 0, final.stderr
    assert _on_site(wp_sink, 920000) == _expected(posts)  # all there, none twice

    with Ledger.open_readonly(ledger) as led:
        runs = led.runs(limit=None)
    # Every rerun after a kill resumed the first run, which wrote every post; a rerun that
    # starts once the import had already completed (the bulk route can finish 200 posts before
    # a planned kill lands) is a new run that finds nothing to write.
    first, *later = sorted(runs, key=lambda r: r.id)
    assert first.state == RunState.COMPLETED and first.counts["created"] == KILL_COUNT
    assert first.resumed >= 1, "no rerun resumed the killed run"
    for run in later:
        assert run.state == RunState.COMPLETED, run
        assert run.counts["created"] == run.counts["updated"] == 0, run

    status = _cli(wordpress, "status", "--ledger", str(ledger))
    assert status.returncode == 0 and "completed" in status.stdout

    verify = _cli(
        wordpress, "verify", str(data), "--sink", "wordpress", "--target", wordpress.url,
        "--ledger", str(ledger),
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The resumed run is one run: one rollback empties the site.
    back = _cli(wordpress, "rollback", "--ledger", str(ledger), "--yes")
    assert back.returncode == 0, back.stderr
    assert _on_site(wp_sink, 920000) == Counter()


def test_a_lost_ledger_makes_no_duplicates(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str, tmp_path: Path
) -> None:
    posts = [BUILDER.build(seed) for seed in range(921000, 921030)]
    data = _write(tmp_path / "posts.jsonl", posts)
    first = _cli(wordpress, *_import_args(wordpress, data, tmp_path / "a.sqlite", wp_mode))
    assert first.returncode == 0, first.stderr
    # The ledger is gone (another machine, a deleted file): every post is sent again.
    again = _cli(wordpress, *_import_args(wordpress, data, tmp_path / "b.sqlite", wp_mode))
    assert again.returncode == 0, again.stderr
    assert _on_site(wp_sink, 921000) == _expected(posts)


def _update_create_rollback(
    site: WordPress,
    sink: WordPressSink,
    mode: str,
    tmp: Path,
    block: int,
    sizes: tuple[int, int, int],
) -> None:
    """Import `base` posts of seed block `block`, then a run that edits the first `edited` and
    creates `new` more; roll that run back: the site is as before (same posts, same URLs, the
    previous version of an edited post exactly) and the created posts are gone."""
    base_n, edited, new = sizes
    base = [BUILDER.build(seed) for seed in range(block, block + base_n)]
    ledger = tmp / "ledger.sqlite"
    first = _cli(site, *_import_args(site, _write(tmp / "a.jsonl", base), ledger, mode))
    assert first.returncode == 0, first.stderr
    prefix = f"alphanode-{block // 1000:03d}"
    before = _on_site(sink, block)
    urls_before = {r.source_id: r.url for r in iter_all(sink) if r.source_id.startswith(prefix)}

    second = [
        dict(p, title=f"edited {p['title']}") if i < edited else p for i, p in enumerate(base)
    ]
    second += [BUILDER.build(seed) for seed in range(block + 100, block + 100 + new)]
    run = _cli(site, *_import_args(site, _write(tmp / "b.jsonl", second), ledger, mode))
    assert run.returncode == 0, run.stderr
    assert _on_site(sink, block) == _expected(second)

    back = _cli(site, "rollback", "--ledger", str(ledger), "--yes")
    assert back.returncode == 0, back.stderr
    assert _on_site(sink, block) == before
    assert {
        r.source_id: r.url for r in iter_all(sink) if r.source_id.startswith(prefix)
    } == urls_before
    restored = sink.get(base[0]["source_id"])
    assert restored is not None and restored.post == base[0]


@HOOKS_ONLY
def test_rollback_of_an_update_and_create_run_restores_the_site(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str, tmp_path: Path
) -> None:
    _update_create_rollback(wordpress, wp_sink, wp_mode, tmp_path, 922000, (60, 20, 30))


def test_rollback_restores_an_update_in_each_mode(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str, tmp_path: Path
) -> None:
    """Per write path: a run that updates and creates is undone exactly (the previous version
    each mode stored is what comes back; the created posts are gone for good)."""
    _update_create_rollback(wordpress, wp_sink, wp_mode, tmp_path, 925000, (8, 3, 3))


@HOOKS_ONLY
def test_verify_reports_a_post_deleted_in_wordpress(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str, tmp_path: Path
) -> None:
    posts = [BUILDER.build(seed) for seed in range(923000, 923010)]
    data = _write(tmp_path / "posts.jsonl", posts)
    ledger = tmp_path / "ledger.sqlite"
    assert _cli(wordpress, *_import_args(wordpress, data, ledger, wp_mode)).returncode == 0
    assert wp_sink.delete(posts[3]["source_id"])
    verify = _cli(
        wordpress, "verify", str(data), "--sink", "wordpress", "--target", wordpress.url,
        "--ledger", str(ledger),
    )  # fmt: skip
    assert verify.returncode != 0
    assert posts[3]["source_id"] in verify.stdout


def test_wordpress_check_command(wordpress: WordPress) -> None:
    ok = _cli(wordpress, "wordpress", "check", "--target", wordpress.url)
    assert ok.returncode == 0 and "mu-plugin" in ok.stdout
    env = _env(wordpress)
    env["ANP_WP_APP_PASSWORD"] = "not the password"
    refused = subprocess.run(
        [sys.executable, "-m", "anp_synth", "wordpress", "check", "--target", wordpress.url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ") and len(refused.stderr.strip().splitlines()) == 1
    assert "not the password" not in refused.stderr and "Traceback" not in refused.stderr
    plugin = _cli(wordpress, "wordpress", "mu-plugin")
    assert plugin.returncode == 0 and "register_post_meta" in plugin.stdout


@HOOKS_ONLY
def test_injected_faults_and_kills_lose_and_duplicate_nothing(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str, tmp_path: Path
) -> None:
    # 503, 429 + Retry-After, answers lost after the write (500, dropped), answers slower than
    # the timeout, dropped connections — with a kill between — at 25 % of all calls. Through
    # the bulk route a batch is one call (a lost answer is replayed by its Idempotency-Key);
    # through batch/v1 it is 2-3 (lookup, new terms, write), so a quarter of the calls spoils
    # about half of the batches there.
    from tests.wordpress.faultproxy import WordPressFaultProxy

    posts = [BUILDER.build(seed) for seed in range(924000, 924040)]
    data = _write(tmp_path / "posts.jsonl", posts)
    ledger = tmp_path / "ledger.sqlite"
    port = int(wordpress.url.rsplit(":", 1)[1])
    # Small batches keep every honest answer well inside the short timeout on a busy machine.
    with WordPressFaultProxy(port, rate=0.25, seed=3, slow=6.0) as proxy:
        args = [
            *("import", str(data), "--sink", "wordpress", "--target", proxy.url),
            *("--ledger", str(ledger), "--timeout", "5", "--batch-size", "5", "-q"),
            *("--wp-mode", wp_mode),
        ]
        _run_and_kill(wordpress, args, progress_kill(ledger, 15))
        final = _cli(wordpress, *args)
        assert final.returncode == 0, final.stderr
        kinds = {kind for kind, n in proxy.counts.items() if kind != "ok" and n}
        assert len(kinds) >= 3, proxy.counts
        assert _on_site(wp_sink, 924000) == _expected(posts)  # zero loss, zero duplicates
        assert created_in(ledger) == len(posts)  # lost answers included: the ledger knows them all
        proxy.enabled = False
        back = _cli(wordpress, "rollback", "--ledger", str(ledger), "--yes")
        assert back.returncode == 0, back.stderr
    assert _on_site(wp_sink, 924000) == Counter()
