"""The targets manifest: what the locustfiles request, exported from the import ledger.

The ledger (issue 4) holds, per imported item, its url, view count, title, tags
and stack. `export(ledger, target)` reads the confirmed items of one target and
writes the JSON the locustfiles read:

    {"format": "anp-synth-targets/1", "target": "http://127.0.0.1:8000",
     "posts":  [{"url": "/posts/…", "view_count": 1234, "title": …, "tags": […], "stacks": […]}],
     "stacks": [{"name": "Rust", "slug": "rust", "count": 42}],
     "tags":   [{"name": "caching", "slug": "caching", "count": 17}],
     "search_terms": ["latency", …],
     "cache_rules": [{"pattern": "^/posts/[^/]+$", "rule": "post", "cached": true}, …]}

`cache_rules` are the reference site's (anp_synth.site.cache); a WordPress target has none; a
static site's say every path may be cached (anp_synth.loadtest.static). `site` is the kind
of site when it is not the reference site ("wordpress", "static").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from anp_synth.errors import InputError, UsageError
from anp_synth.jsonl import read_document
from anp_synth.loadtest import cache_rules
from anp_synth.target import identity

FORMAT = "anp-synth-targets/1"
MAX_SEARCH_TERMS = 200
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
_STOP = frozenset(
    [
        "about",
        "after",
        "also",
        "before",
        "being",
        "between",
        "could",
        "every",
        "from",
        "have",
        "into",
        "notes",
        "only",
        "over",
        "should",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "under",
        "very",
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "without",
        "would",
        "your",
    ]
)


def slugify(name: str) -> str:
    """The reference site's slug of a stack or tag name (anp_synth.site.terms.slugify).

    Kept identical here so the manifest can be built without the site package.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:80].strip("-")
    if slug:
        return slug
    return "t-" + hashlib.blake2b(name.encode(), digest_size=6).hexdigest()


def url_path(url: str) -> str:
    """The path (and query) of a post URL, whether the ledger stored it absolute or not."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return path + (f"?{parts.query}" if parts.query else "")


def read_ledger(ledger: str | Path, target: str) -> list[dict[str, object]]:
    """The confirmed items of `target` in the ledger, one per source id, by source id."""
    from anp_synth.importer.ledger import ItemState, Ledger

    path = Path(ledger)
    want = identity(target)
    latest: dict[str, dict[str, object]] = {}
    with Ledger.open_readonly(path) as led:
        targets = led.targets()
        # the ledger matches every spelling of the target (anp_synth.target)
        for item in led.items(target=want, state=ItemState.CONFIRMED):
            if not item.url:
                raise InputError(
                    str(path),
                    None,
                    f"items[{item.source_id}].url",
                    "confirmed item without url",
                )
            latest[item.source_id] = {
                "source_id": item.source_id,
                "url": url_path(item.url),
                "view_count": max(item.view_count or 0, 0),
                "title": item.title or "",
                "tags": item.tags or [],
                "stacks": item.stack or [],
            }
    if not latest:
        others = sorted(t for t in targets if identity(t) != want)
        hint = f"; it has targets {', '.join(others)}" if others else ""
        raise UsageError("ledger", f"{path} has no confirmed items for target {want}{hint}")
    return [latest[k] for k in sorted(latest)]


def build(posts: list[dict[str, object]], target: str) -> dict[str, object]:
    """The manifest document for these posts."""
    counts: dict[str, Counter[str]] = {"stacks": Counter(), "tags": Counter()}
    names: dict[tuple[str, str], str] = {}
    words: Counter[str] = Counter()
    for post in posts:
        # a listing is keyed by slug and lists a post once, however often a name repeats
        for kind, counter in counts.items():
            slugs: dict[str, str] = {}
            for name in post[kind]:  # type: ignore[attr-defined]
                slugs.setdefault(slugify(str(name)), str(name))
            for slug, name in slugs.items():
                counter[slug] += 1
                names.setdefault((kind, slug), name)
        for word in _WORD.findall(str(post["title"]).lower()):
            if word not in _STOP:
                words[word] += 1
    terms = [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))][:MAX_SEARCH_TERMS]
    listings = {
        kind: [
            {"name": names[(kind, slug)], "slug": slug, "count": c}
            for slug, c in sorted(counter.items())
        ]
        for kind, counter in counts.items()
    }
    return {
        "format": FORMAT,
        "target": identity(target),
        "posts": posts,
        "stacks": listings["stacks"],
        "tags": listings["tags"],
        "search_terms": terms,
    }


def imported(ledger: str | Path, target: str) -> tuple[str, str]:
    """The kind of site under `target` (cache_rules.site_kind) and the ledger target to read.

    The ledger names the target each run wrote into. A static site is written as a folder
    and load-tested at the URL that serves its build: when no run wrote into `target`
    itself, the ledger's one static folder is taken (two or more: say which, through a
    manifest exported with `export-targets --target FOLDER`).
    """
    from anp_synth.importer.ledger import Ledger

    want = identity(target)
    with Ledger.open_readonly(Path(ledger)) as led:
        runs = led.runs(limit=None)
    for run in runs:  # newest first
        if identity(run.target) == want:
            return cache_rules.site_kind(run.sink), run.target
    folders = sorted(
        {run.target for run in runs if cache_rules.site_kind(run.sink) == cache_rules.STATIC}
    )
    if len(folders) > 1:
        raise UsageError(
            "ledger",
            f"{ledger} holds several static sites ({', '.join(folders)}): export one with "
            "`export-targets --target FOLDER --ledger L -o targets.json` and pass --manifest",
        )
    if folders:
        return cache_rules.STATIC, folders[0]
    return cache_rules.ANP, target


def export(ledger: str | Path, target: str, output: str | Path) -> dict[str, object]:
    """Read the ledger, write the manifest to `output` atomically, return it."""
    kind, imported_into = imported(ledger, target)
    doc = build(read_ledger(ledger, imported_into), target)
    if kind == cache_rules.WORDPRESS:
        from anp_synth.loadtest import wordpress

        doc = wordpress.adapt(doc, target)  # its own listing URLs, page size and login
    elif kind == cache_rules.STATIC:
        from anp_synth.loadtest import static

        doc = static.adapt(doc, target)  # the built site's listing URLs; no bypass rules
    else:
        # the reference site's cache rules, from the site itself: the inspector checks them
        doc["cache_rules"] = [rule.as_json() for rule in cache_rules.site_rules()]
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    tmp.replace(out)
    return doc


def load(path: str | Path) -> dict[str, object]:
    """A manifest written by `export` (checked just enough to fail with a clear message)."""
    p = Path(path)
    doc = read_document(p, FORMAT, "a targets manifest")
    if not isinstance(doc.get("posts"), list) or not doc["posts"]:
        raise InputError(str(p), None, "posts", "expected a non-empty list")
    cache_rules.parse(doc.get("cache_rules", []), str(p))
    return doc
