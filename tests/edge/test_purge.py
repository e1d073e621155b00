"""Purging the edge from the importer: retried like a write, reported when it keeps failing."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from anp_synth.edge.purge import VarnishPurger, key_chunks, parse_purge
from anp_synth.edge.varnish import VarnishProcess, free_port
from anp_synth.errors import UsageError
from anp_synth.importer import Importer, Options
from anp_synth.importer.ledger import Ledger
from anp_synth.importer.runlog import RunLog
from anp_synth.importer.send import BatchResult, purge_edges
from anp_synth.sinks.memory import MemorySink, reset_store
from tests.importer.faultproxy import FaultProxy
from tests.site.conftest import make_post

FAST = Options(max_attempts=12, max_retry_time=30, wait_initial=0.01, wait_max=0.05)


class _EveryPathFaultProxy(FaultProxy):
    prefix = b"/"  # a PURGE goes to "/"


def test_purge_specs() -> None:
    assert parse_purge("varnish=http://127.0.0.1:6081/").name == "varnish=http://127.0.0.1:6081"
    for bad, words in [
        ("varnish", "KIND=URL"),
        ("fastly=https://api.fastly.com", "not built in"),
        ("squid=http://x", "unknown kind"),
        ("varnish=ftp://x", "expected an http"),
    ]:
        with pytest.raises(UsageError, match=words) as info:
            parse_purge(bad)
        assert info.value.option == "purge"


def test_keys_are_sent_in_headers_of_bounded_size() -> None:
    keys = [f"post-alphanode-{n:06d}" for n in range(1000)]
    chunks = list(key_chunks(keys, 4000))
    assert [k for c in chunks for k in c] == keys
    assert all(len(" ".join(c)) <= 4000 for c in chunks) and len(chunks) > 1


def test_a_failing_purge_is_retried_until_it_goes_through(edge: VarnishProcess) -> None:
    with _EveryPathFaultProxy(int(edge.port or 0), rate=0.6, seed=7, slow=0.2) as proxy:
        purger = VarnishPurger(proxy.url, timeout=2)
        out = BatchResult()
        try:
            purge_edges([purger], ["404", "home"], FAST, RunLog(None), out)
        finally:
            purger.close()
    assert out.purge_failed == [] and out.purged_keys == 2
    assert sum(n for kind, n in proxy.counts.items() if kind != "ok") > 0  # it was retried


def test_a_purge_that_keeps_failing_is_reported_not_dropped(tmp_path: Path) -> None:
    target = "memory://edge-purge-fails"
    dead = VarnishPurger(f"http://127.0.0.1:{free_port()}", timeout=1)
    opts = Options(max_attempts=3, max_retry_time=2, wait_initial=0.01, wait_max=0.02)
    posts = [make_post(seed) for seed in range(900_000, 900_003)]
    stream = io.BytesIO(b"".join(orjson.dumps(p) + b"\n" for p in posts))
    try:
        with Ledger(tmp_path / "ledger.db") as led:
            imp = Importer(MemorySink(target), led, target, opts, purgers=[dead])
            summary = imp.run(stream, "posts.jsonl")
    finally:
        dead.close()
        reset_store(target)
    assert summary.created == 3  # the writes stand
    assert summary.purge_failed and dead.name in summary.purge_failed[0]
    assert not summary.ok  # so the CLI exits 3 (partial)
    log = Path(summary.log_path or "").read_bytes().splitlines()
    assert any(orjson.loads(line).get("action") == "purge-failed" for line in log)
