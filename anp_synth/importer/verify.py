"""`verify`: compare the input file, the ledger and the target through its keyset listing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple

from anp_synth.importer.ledger import ItemState, Ledger, TargetPost
from anp_synth.jsonl import content_hash, iter_lines
from anp_synth.post import is_source_id
from anp_synth.sinks.base import RemotePost, Sink, iter_all

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
        """True when file, target and ledger agree; after a repair (which rebuilt the ledger's
        rows of the file's posts), when every post of the file is on the target as it is."""
        if self.repaired is not None:
            return not (self.missing or self.mismatched)
        return not (self.missing or self.extra or self.mismatched or self.ledger_stale)


class _FilePost(NamedTuple):
    """A post of the file: its content hash, and what the load tests read of it."""

    content_hash: str
    view_count: Any
    title: Any
    tags: Any
    stack: Any


def _read_file(stream: BinaryIO) -> dict[str, _FilePost]:
    """The posts of the file by source id (the first of a repeated id; bad lines skipped)."""
    wanted: dict[str, _FilePost] = {}
    for ln in iter_lines(stream):
        v = ln.value
        if ln.error is not None or not isinstance(v, dict):
            continue
        sid = v.get("source_id")
        if isinstance(sid, str) and is_source_id(sid) and sid not in wanted:
            meta = v.get("meta")
            meta = meta if isinstance(meta, dict) else {}
            wanted[sid] = _FilePost(
                content_hash(v), meta.get("view_count"), v.get("title"), v.get("tags"),
                meta.get("stack"),
            )  # fmt: skip
    return wanted


def verify(
    stream: BinaryIO, sink: Sink, ledger: Ledger, target: str, *, repair: bool = False
) -> Report:
    """Compare file ↔ target ↔ ledger; with `repair`, rebuild the ledger's rows of the file's
    posts from the target (a post of the file the target lacks loses its row)."""
    report = Report()
    wanted = _read_file(stream)
    report.in_file = len(wanted)
    remote: dict[str, RemotePost] = {rp.source_id: rp for rp in iter_all(sink)}
    report.on_target = len(remote)
    for sid, fp in wanted.items():
        got = remote.get(sid)
        if got is None:
            report.missing.append(sid)
        elif got.hash != fp.content_hash:
            report.mismatched.append(sid)
    report.extra = sorted(set(remote) - set(wanted))
    in_ledger = {i.source_id: i for i in ledger.items(target=target)}
    report.in_ledger = len(in_ledger)
    for sid in sorted(set(in_ledger) | set(remote)):
        item = in_ledger.get(sid)
        got = remote.get(sid)
        confirmed = item is not None and item.state == ItemState.CONFIRMED
        if (got is None and confirmed) or (
            got is not None and (not confirmed or item is None or item.content_hash != got.hash)
        ):
            report.ledger_stale.append(sid)
    report.missing.sort()
    report.mismatched.sort()
    if repair:  # only the file's posts: the ledger's other rows of this target stay as they are
        on_target = (
            _target_post(remote[sid], fp) for sid, fp in sorted(wanted.items()) if sid in remote
        )
        report.repaired = ledger.replace_items(target, sorted(wanted), on_target)
        report.ledger_stale = [sid for sid in report.ledger_stale if sid not in wanted]
    return report


def _target_post(rp: RemotePost, fp: _FilePost | None) -> TargetPost:
    """The ledger row of a listed post: what the file says of it only if the hashes agree."""
    if fp is None or fp.content_hash != rp.hash:
        return TargetPost(rp.source_id, rp.hash, rp.remote_id, rp.url)
    return TargetPost(
        rp.source_id, rp.hash, rp.remote_id, rp.url, fp.view_count, fp.title, fp.tags, fp.stack
    )
