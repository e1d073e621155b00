"""The sink core every static-site generator shares: one Markdown file per post in a folder.

A generator's module says where a post's file goes, what its URL is and which front matter
keys it adds; this class does the rest, the same for all three: posts are found by the
`source_id` of their front matter (so a lost ledger loses nothing), a file whose bytes would
not change is not touched (mtime and bytes stay, so the generator's incremental build stays
incremental), each write is atomic (a temporary file beside it, then a rename: a kill -9
never leaves a half file the generator would read), and a path outside the folder is refused.

A write's Idempotency-Key is kept with the file, not in it (the bytes stay the post's own, so
a rollback restores them exactly): an extended attribute `user.anp-synth.write` set on the
file before it gets its name says what the write did, its key and the digest of its request's
keys (`created KEY REQUEST`), and an
update first journals the version it replaces (`.anp-synth/previous/<source_id>.json` under
the target, one per post: the newest update's). A batch resent after a crash between the
write and the ledger carries the same keys: each file it already wrote is answered as that
write was (created, or updated with the previous version), so the ledger records the change
and a rollback deletes or restores it. On a filesystem without user extended attributes the
mark is skipped, and the ledger's own inference for a lost answer applies.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import orjson
from pydantic import ValidationError

from anp_synth import collector
from anp_synth.atomic import MARK, TMP_SUFFIX, unlink, write_atomic
from anp_synth.contract import LIST_LIMIT, MAX_BULK_POSTS, UpsertOutcome
from anp_synth.errors import SinkError, TerminalSinkError, TransientSinkError, UsageError
from anp_synth.jsonl import content_hash
from anp_synth.post import checked, first_error, is_source_id
from anp_synth.sinks.base import Page, RemotePost, UpsertResult
from anp_synth.sinks.static.markdown import document, read_post, source_id_of
from anp_synth.sinks.static.writer import WriterProcess

JOURNAL = Path(".anp-synth") / "previous"  # under the target: a dot folder no generator reads


class Held(NamedTuple):
    """One post's file as the folder holds it (its path a str: a Path per post costs more
    than the rest of the bookkeeping)."""

    path: str
    hash: str
    url: str


class _Write(NamedTuple):
    """One file to write, and the answer once it is written."""

    result: UpsertResult
    path: str
    data: bytes
    mark: str  # the MARK attribute's value
    key: str  # the Idempotency-Key (the journal's entry for an update)
    new: bool  # no file for the post before
    moved: str | None  # its old file, under another name: removed once this one is written


# Made directly (tuple.__new__ is C; a NamedTuple's own __new__ is a Python call): one a post.
_held: Callable[[tuple[str, str, str]], Held] = functools.partial(tuple.__new__, Held)
_write_of: Callable[[tuple[UpsertResult, str, bytes, str, str, bool, str | None]], _Write] = (
    functools.partial(tuple.__new__, _Write)
)


def request_of(keys: Sequence[str]) -> str:
    """The digest of a request's keys: a key is replayed only in the request that sent it
    (a resumed run resends an interrupted batch as that batch, in the same order)."""
    return hashlib.blake2b("\n".join(keys).encode(), digest_size=8).hexdigest()


def read_mark(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """The write that made the file, when it says: (outcome, "KEY REQUEST")."""
    try:
        value = os.getxattr(path, MARK).decode("utf-8", "replace")
    except OSError:
        return None  # none (written before marks, copied, or no attributes here)
    outcome, _, key = value.partition(" ")
    return (outcome, key) if key else None


class StaticSink:
    """The import contract over a folder of Markdown files (subclassed per generator)."""

    name: ClassVar[str] = "static"
    max_batch = MAX_BULK_POSTS
    # From this many posts a batch, new files are written by the writer process (starting
    # it costs ~30 ms, a few hundred files' rendering); 0 for every batch, a huge number never.
    writer_batch: ClassVar[int] = 64
    # Files in the folder whose presence says "this is the site's root": then the posts go
    # to `posts_dir` under it; otherwise the target is taken as the posts folder itself.
    site_markers: ClassVar[tuple[str, ...]] = ()
    posts_dir: ClassVar[str] = "posts"

    def __init__(self, target: str, token: str | None = None, **_options: Any) -> None:
        root = Path(target)
        if not root.is_dir():
            raise UsageError("target", f"{target}: not a directory (run `site init` to make one)")
        self.root = root
        is_site = any((root / m).exists() for m in self.site_markers)
        self.folder = (root / self.posts_dir) if is_site else root
        self.folder.mkdir(parents=True, exist_ok=True)
        self._folder = os.fspath(self.folder)
        self.journal = root / JOURNAL
        self._lock = threading.Lock()
        self._index: dict[str, Held] | None = None  # built on first use
        self._writer: WriterProcess | None = None  # started by the first large batch
        self._no_writer = False  # none could start here: this process writes every file
        self._finalizer: weakref.finalize | None = None  # closes the writer if never closed

    # What a generator says ------------------------------------------------------------

    def filename(self, post: dict[str, Any]) -> str:
        """The post's file name in the folder."""
        return f"{post['slug']}.md"

    def url(self, post: dict[str, Any]) -> str:
        """The post's page on the built site."""
        return f"/posts/{post['slug']}/"

    def front_matter(self, post: dict[str, Any]) -> dict[str, Any]:
        """Front matter keys this generator adds (layout, liquid switches…)."""
        return {}

    def code_source(self, source: str) -> str:
        """A code block's source as this generator needs it written (as is, unless it reads
        templates inside code blocks)."""
        return source

    # The contract -----------------------------------------------------------------------

    def render(self, post: dict[str, Any], content_hash_: str | None = None) -> bytes:
        """The file's bytes for a post."""
        h = content_hash(post) if content_hash_ is None else content_hash_
        return document(post, h, self.front_matter(post), self.code_source)

    def path_for(self, post: dict[str, Any]) -> Path:
        """Where a post's file goes; a name that would leave the folder is refused."""
        return Path(self._path_for(post))

    def _path_for(self, post: dict[str, Any]) -> str:
        name = self.filename(post)
        # A plain name (no separator, not a dot name) cannot leave the folder.
        if not name or name[0] == "." or "/" in name or "\\" in name or "\0" in name:
            raise TerminalSinkError(
                f"422 slug: {post.get('slug')!r} would write outside {self.folder}", status=422
            )
        return f"{self._folder}/{name}"

    def _scan(self) -> dict[str, Held]:
        if self._index is not None:
            return self._index
        index: dict[str, Held] = {}
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            if entry.name.endswith(TMP_SUFFIX) and entry.name.startswith("."):
                unlink(entry.path)  # left by a killed run: never read
                continue
            if not entry.name.endswith(".md") or not entry.is_file():
                continue
            data = Path(entry.path).read_bytes()
            sid = source_id_of(data)
            if sid is None or sid in index:
                continue
            post = read_post(data)
            if post is not None:
                index[sid] = Held(entry.path, content_hash(post), self.url(post))
        self._index = index
        return index

    def _read(self, held: Held) -> dict[str, Any]:
        try:
            post = read_post(Path(held.path).read_bytes())
        except OSError as exc:
            raise TransientSinkError(f"{held.path}: {exc.strerror}") from None
        if post is None:
            raise TerminalSinkError(f"{held.path}: not a post file written by anp-synth")
        return post

    def upsert(self, post: dict[str, Any], *, idempotency_key: str) -> UpsertResult:
        """Create or update one post's file; a file with the same bytes is not written."""
        request = request_of([idempotency_key])
        with self._lock:
            result = self._upsert(post, idempotency_key, request, self._scan())
        if isinstance(result, SinkError):
            raise result
        return result

    def upsert_many(
        self, posts: Sequence[dict[str, Any]], *, idempotency_keys: Sequence[str]
    ) -> list[UpsertResult | SinkError]:
        """Upsert a batch as if one post after the other; a bad post fails only itself.

        With the cycle collector paused (a post's render makes only acyclic garbage). In a
        batch of `writer_batch` posts or more, new files go to the writer process (`writer`)
        while the next posts render; a post whose source id or file a write in flight
        touches, and every update, waits for the writes in flight first, and the batch is
        answered only once each of its files is written (or failed: that post's transient
        error). Writer threads were measured to buy nothing (a writer waits for the GIL
        after each of a file's system calls while the next post renders).
        """
        if len(posts) > self.max_batch:
            raise TerminalSinkError(f"413 batch of {len(posts)} > {self.max_batch}", status=413)
        request = request_of(idempotency_keys)
        out: list[UpsertResult | SinkError | None] = [None] * len(posts)
        with self._lock, collector.paused():
            index = self._scan()
            writer = self._writer_for(len(posts))
            pending: list[tuple[int, _Write]] = []  # handed to the writer, not yet answered
            touched: set[str] = set()  # their source ids and paths

            def settle() -> None:
                assert writer is not None
                for (i, step), code in zip(pending, writer.answers(), strict=True):
                    if code == errno.EPIPE and not writer.alive:
                        out[i] = self._apply(step, index)  # the writer died: written here
                    elif code:
                        out[i] = TransientSinkError(f"{step.path}: {os.strerror(code)}")
                    else:
                        r = step.result
                        index[r.source_id] = _held((step.path, r.hash, r.url))
                        out[i] = r
                pending.clear()
                touched.clear()

            try:
                for i, (post, key) in enumerate(zip(posts, idempotency_keys, strict=True)):
                    if touched and isinstance(post, dict) and post.get("source_id") in touched:
                        settle()
                    try:
                        step = self._prepare(post, key, request, index)
                        if isinstance(step, _Write) and step.path in touched:
                            settle()  # another post's new file has this name: decide again
                            step = self._prepare(post, key, request, index)
                    except SinkError as exc:
                        out[i] = exc
                        continue
                    if isinstance(step, UpsertResult):
                        out[i] = step
                    elif writer is not None and step.new and step.moved is None:
                        writer.send(step.path, step.data, step.mark)
                        pending.append((i, step))
                        touched.update((step.result.source_id, step.path))
                    else:
                        if pending:
                            settle()
                        out[i] = self._apply(step, index)
                if pending:
                    settle()
            except BaseException:
                self._index = None  # a write may have landed unrecorded: read the folder again
                self._stop_writer()  # it finishes the files in flight first
                raise
        return [r for r in out if r is not None]

    def _apply(self, step: _Write, index: dict[str, Held]) -> UpsertResult | SinkError:
        """Do a write here, in this thread: its answer, or its OSError as the post's error."""
        try:
            self._write(step)
        except OSError as exc:  # the post's own failure (a full disk, a permission)
            return TransientSinkError(f"{step.path}: {exc.strerror}")
        r = step.result
        index[r.source_id] = _held((step.path, r.hash, r.url))
        return r

    def _writer_for(self, batch: int) -> WriterProcess | None:
        """The writer process for a batch this large (started on first use), or None: for a
        small batch, or where no writer could start or one died before its first answer
        (then this process writes, as for a small batch)."""
        if batch < self.writer_batch or self._no_writer:
            return None
        if self._writer is not None and not self._writer.alive:
            self._no_writer = not self._writer.answered  # it could not even start
            self._stop_writer()  # it ended (killed?): a new one
            if self._no_writer:
                return None
        if self._writer is None:
            try:
                self._writer = WriterProcess()
            except OSError:
                self._no_writer = True
                return None
            self._finalizer = weakref.finalize(self, self._writer.close)
        return self._writer

    def _stop_writer(self) -> None:
        if self._writer is not None:
            assert self._finalizer is not None
            self._finalizer.detach()
            writer, self._writer = self._writer, None
            writer.close()

    def _upsert(
        self, post: dict[str, Any], key: str, request: str, index: dict[str, Held]
    ) -> UpsertResult | SinkError:
        """One post's answer, or its error (raised only for what stops the batch). Under the
        lock."""
        try:
            step = self._prepare(post, key, request, index)
        except SinkError as exc:
            return exc
        return step if isinstance(step, UpsertResult) else self._apply(step, index)

    def _prepare(
        self, post: dict[str, Any], idempotency_key: str, request: str, index: dict[str, Held]
    ) -> UpsertResult | _Write:
        """Validate and render a post and compare it with its file: the answer when nothing
        is to be written (unchanged, or this key's write again), else the write to do.
        `request`: the digest of its batch's keys (the same key in the same request again is
        the resent write, answered as it was written)."""
        try:
            h = checked(post).content_hash  # the importer's check, or this one
        except ValidationError as exc:
            raise TerminalSinkError(f"422 {first_error(exc)}", status=422) from None
        sid = post["source_id"]
        path = self._path_for(post)
        data = self.render(post, h)
        url = self.url(post)
        old = index.get(sid)
        if old is not None and not os.path.exists(old.path):
            old = None  # deleted behind the sink's back: this write creates it again
        previous: dict[str, Any] | None = None
        if old is not None:
            try:
                same = old.path == path and Path(path).read_bytes() == data
            except OSError:
                same = False
            if same:
                mark = read_mark(path)
                if mark is not None and mark[1] == f"{idempotency_key} {request}":
                    return self._replay(sid, url, h, mark[0], idempotency_key)
                return UpsertResult(sid, UpsertOutcome.UNCHANGED, sid, url, h)
            previous = self._read(old)
        outcome = UpsertOutcome.CREATED if previous is None else UpsertOutcome.UPDATED
        moved = old.path if old is not None and old.path != path else None
        return _write_of(
            (
                UpsertResult(sid, outcome, sid, url, h, previous),
                path,
                data,
                f"{outcome} {idempotency_key} {request}",
                idempotency_key,
                old is None,  # new
                moved,
            )
        )

    def _write(self, step: _Write) -> None:
        """Do a write: first what it replaces into the journal, then the file, then the old
        file of a post whose slug (or date) moved it. OSError is the post's own failure."""
        result = step.result
        if result.previous is not None:
            self._keep_previous(result.source_id, step.key, result.previous)
        write_atomic(step.path, step.data, new=step.new, mark=step.mark)
        if step.moved is not None:
            unlink(step.moved)

    def _keep_previous(self, sid: str, key: str, previous: dict[str, Any]) -> None:
        """Journal the version an update replaces, under the update's key."""
        self.journal.mkdir(parents=True, exist_ok=True)
        doc = orjson.dumps({"key": key, "post": previous})
        write_atomic(self.journal / f"{sid}.json", doc)

    def _replay(self, sid: str, url: str, h: str, outcome: str, key: str) -> UpsertResult:
        """The answer of the write that made the file, for the same key sent again."""
        if outcome != UpsertOutcome.UPDATED:
            return UpsertResult(sid, UpsertOutcome.CREATED, sid, url, h)
        try:
            doc = orjson.loads((self.journal / f"{sid}.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            doc = {}
        previous = doc.get("post") if doc.get("key") == key else None  # else: not known
        return UpsertResult(sid, UpsertOutcome.UPDATED, sid, url, h, previous=previous)

    def get(self, source_id: str) -> RemotePost | None:
        """One post read back from its file, or None."""
        with self._lock:
            index = self._scan()
            held = index.get(source_id)
            if held is not None and not os.path.exists(held.path):
                del index[source_id]  # deleted behind the sink's back
                held = None
        if held is None:
            return None
        post = self._read(held)
        return RemotePost(source_id, source_id, self.url(post), content_hash(post), post)

    def list(self, after: str | None = None, limit: int = LIST_LIMIT) -> Page:
        """Keyset page of the folder's posts, ordered by source id."""
        with self._lock:
            index = self._scan()
            ids = sorted(s for s in index if after is None or s > after)[:limit]
            held = [(s, index[s]) for s in ids]
        items = [RemotePost(s, s, h.url, h.hash) for s, h in held]
        return Page(items, ids[-1] if len(ids) == limit else None)

    def delete(self, source_id: str) -> bool:
        """Delete a post's file; False when there is none."""
        if not is_source_id(source_id):
            raise TerminalSinkError(f"404 not a source id: {source_id!r}", status=404)
        with self._lock:
            held = self._scan().pop(source_id, None)
            if held is None:
                return False
            unlink(held.path)
            (self.journal / f"{source_id}.json").unlink(missing_ok=True)
            return True

    def purge(self, paths: Sequence[str]) -> None:
        """Nothing to purge: a static site has no cache of its own (the next build is it)."""

    def close(self) -> None:
        """Stop the writer process, if one was started."""
        with self._lock:
            self._stop_writer()
