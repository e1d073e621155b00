"""`verify`: compare the input file, the ledger and the target through its keyset listing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

from anp_synth.importer.ledger import Ledger
from anp_synth.jsonl import content_hash, iter_lines
from anp_synth.post import is_source_id
from anp_synth.sinks.base import Sink, iter_all

SAMPLE = 20  # ids listed per finding in the report


@dataclass(slots=True)
class Report:
    """What verify found; every list holds source ids."""

    in_file: int = 0
    on_target: int = 0
    in_ledger: int = 0
    missing: list[str] = field(default_factory=list)  # in the file, not on the target
    extra: list[str] = field(default_factory=list)  # on the target, not in the file
    mismatched: list[str] = field(default_factory=list)  # hash on target != hash in file
    ledger_stale: list[str] = field(default_factory=list)  # ledger disagrees with the target
    repaired: int | None = None

    @property
    def ok(self) -> bool:
        """True when file, target and ledger agree."""
        return not (self.missing or self.extra or self.mismatched or self.ledger_stale)


def verify(
    stream: BinaryIO, sink: Sink, ledger: Ledger, target: str, *, repair: bool = False
) -> Report:
    """Compare file ↔ target ↔ ledger; with `repair`, rebuild the ledger from the target."""
    report = Report()
    wanted: dict[str, str] = {}
    about: dict[str, tuple[Any, Any, Any, Any]] = {}  # what the load tests read, for --repair
    for ln in iter_lines(stream):
        v = ln.value
        if ln.error is None and isinstance(v, dict) and is_source_id(str(v.get("source_id"))):
            sid = v["source_id"]
            if sid not in wanted:
                wanted[sid] = content_hash(v)
                meta = v.get("meta")
                meta = meta if isinstance(meta, dict) else {}
                about[sid] = (
                    meta.get("view_count"),
                    v.get("title"),
                    v.get("tags"),
                    meta.get("stack"),
                )
    report.in_file = len(wanted)
    remote: dict[str, tuple[str, str, str]] = {}
    for rp in iter_all(sink):
        remote[rp.source_id] = (rp.hash, rp.remote_id, rp.url)
    report.on_target = len(remote)
    for sid, h in wanted.items():
        got = remote.get(sid)
        if got is None:
            report.missing.append(sid)
        elif got[0] != h:
            report.mismatched.append(sid)
    report.extra = sorted(set(remote) - set(wanted))
    ledger_rows = {
        r["source_id"]: (r["content_hash"], r["state"]) for r in ledger.items(target=target)
    }
    report.in_ledger = len(ledger_rows)
    for sid in sorted(set(ledger_rows) | set(remote)):
        row = ledger_rows.get(sid)
        got = remote.get(sid)
        confirmed = row is not None and row[1] == "confirmed"
        if (got is None and confirmed) or (
            got is not None and (not confirmed or row is None or row[0] != got[0])
        ):
            report.ledger_stale.append(sid)
    report.missing.sort()
    report.mismatched.sort()
    if repair:
        report.repaired = ledger.replace_target_items(
            target,
            (
                (sid, h, rid, url, *(about[sid] if wanted.get(sid) == h else (None,) * 4))
                for sid, (h, rid, url) in sorted(remote.items())
            ),
        )
        report.ledger_stale = []
    return report
