"""Rule 1: while a run retries or pauses, the user is told what failed and when it tries again."""

from __future__ import annotations

from anp_synth.importer import Importer
from anp_synth.importer.breaker import Notices
from anp_synth.sinks.memory import MemorySink
from tests.importer.posts import FlakySink, fast_options, post, write_jsonl


def test_a_retry_and_a_pause_are_said_while_the_run_waits(tmp_path, target, ledger) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(5)])
    flaky = FlakySink(MemorySink(target), down_for=8)  # the breaker opens after 5 in a row
    said: list[str] = []
    imp = Importer(flaky, ledger, target, fast_options(), on_notice=said.append)
    imp.notice.every = 0.0  # every notice, for the test
    with path.open("rb") as fh:
        summary = imp.run(fh, str(path))
    assert summary.ok and summary.created == 5
    retries = [m for m in said if "retrying" in m]
    pauses = [m for m in said if "pauses" in m]
    assert retries and retries[0].startswith("503 injected; retrying 5 post(s) in ")
    assert pauses and "the target keeps failing" in pauses[0] and "then tries again" in pauses[0]


def test_notices_are_at_most_one_per_interval_of_each_kind() -> None:
    now = [0.0]
    said: list[str] = []
    notices = Notices(said.append, every=5.0, clock=lambda: now[0])
    for _ in range(10):
        notices.retry("503", 3, 0.5)
    notices.pause(1.0, 7.0)
    now[0] = 5.0
    notices.retry("timeout", 3, 1.0)
    assert said == [
        "503; retrying 3 post(s) in 0.5s",
        "the target keeps failing (for 7s): every worker pauses 1s, then tries again",
        "timeout; retrying 3 post(s) in 1.0s",
    ]
