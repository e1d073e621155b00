"""What the site derives from a post: term slugs (stacks, tags, tools) and searchable text."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from typing import Any

_NON_SLUG = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=65536)  # term names repeat across posts; bulk upserts slugify a lot
def slugify(name: str) -> str:
    """A URL slug for a term name; a name with no latin letters or digits gets a stable hash slug."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = _NON_SLUG.sub("-", ascii_name).strip("-")[:80].strip("-")
    if slug:
        return slug
    return "t-" + hashlib.blake2b(name.encode(), digest_size=6).hexdigest()


def post_terms(post: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, slug, name) for every stack, tag and tool of a post, without duplicates."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str, str]] = []
    meta = post["meta"]
    for kind, names in (("stack", meta["stack"]), ("tag", post["tags"]), ("tool", meta["tools"])):
        for name in names:
            slug = slugify(name)
            if (kind, slug) not in seen:
                seen.add((kind, slug))
                out.append((kind, slug, name))
    return out


def search_text(post: dict[str, Any]) -> str:
    """The body text the search index holds: lead, headings, paragraphs, checklist."""
    parts = [post["lead"]]
    for section in post["sections"]:
        parts.append(section["heading"])
        parts.extend(section["paragraphs"])
    parts.extend(post["checklist"])
    return "\n".join(parts)


# Letters and digits only: the unicode61 tokenizer splits at "_" too, and the index
# (detail=none) answers single words, not multi-token phrases.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_SEARCH_WORDS = 12


def fts_query(q: str) -> str | None:
    """Turn free text into a safe FTS5 query: every word quoted (no operators), all required."""
    words = _WORD.findall(q)[:MAX_SEARCH_WORDS]
    if not words:
        return None
    return " ".join(f'"{w}"' for w in words)
