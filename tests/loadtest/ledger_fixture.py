"""A real ledger for the load-test tests, written through the Ledger API (no SQL of its own).

Each item goes the way an import takes it: planned, sent, then confirmed by the target
(with the url the target answered) or failed.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from anp_synth.importer.ledger import Confirmed, Failure, ItemState, Ledger, Planned, RunState


def write_ledger(
    path: Path, target: str, items: list[dict[str, object]], *, sink: str = "anp"
) -> Path:
    """Items: source_id, url, and optionally view_count, title, tags, stack, state
    ("confirmed" or "failed"), target (default `target`)."""
    by_target: dict[str, list[dict[str, object]]] = defaultdict(list)
    for item in items:
        by_target[str(item.get("target", target))].append(item)
    with Ledger(path) as led:
        for tgt, group in by_target.items():
            run = led.begin_run("fixture.jsonl", tgt, sink, {})
            planned = [_planned(i, n) for n, i in enumerate(group, start=1)]
            led.mark_pending(tgt, run.id, planned, {})
            led.mark_sent(tgt, [p.source_id for p in planned])
            ok = [i for i in group if i.get("state", ItemState.CONFIRMED) == ItemState.CONFIRMED]
            led.confirm(
                tgt,
                run.id,
                [
                    Confirmed(str(i["source_id"]), "created", str(n), str(i["url"]), "h", None)
                    for n, i in enumerate(ok, start=1)
                ],
            )
            failed = [Failure(str(i["source_id"]), "refused") for i in group if i not in ok]
            led.fail(tgt, failed)
            led.finish_run(run.id, RunState.COMPLETED if not failed else RunState.PARTIAL, {})
    return path


def _planned(item: dict[str, object], line: int) -> Planned:
    return Planned(
        source_id=str(item["source_id"]),
        line=line,
        content_hash="h",
        raw_digest=b"",
        view_count=int(item.get("view_count", 1)),  # type: ignore[call-overload]
        title=str(item.get("title", "")),
        tags=list(item.get("tags", [])),  # type: ignore[call-overload]
        stack=list(item.get("stack", [])),  # type: ignore[call-overload]
    )
