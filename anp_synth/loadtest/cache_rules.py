"""The target's named cache rules, as the cache inspector holds the target to them.

The reference site's rules live in one place, `anp_synth.site.cache.RULES`;
`export-targets` writes them into the targets manifest (`cache_rules`), and the
locustfile reads them from there. Another target gives its own as a JSON file
(`--cache-rules`): `[{"pattern": "^/blog/[^/]+$", "rule": "post", "cached": true}, …]`.

The kind of site (the manifest's `site`) follows from the sink that wrote it: the reference
site (`anp`) names its rules in `X-Cache`; WordPress has none; a static site (a folder built
by Hugo, Jekyll or Eleventy and served by a web server) has no bypass rules at all: every
page, with a query string or not, may be kept by any cache and revalidated (`static_rules`).
Stdlib only: the Locust child imports this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from anp_synth import textfile
from anp_synth.errors import InputError
from anp_synth.sinks.static.skeleton import GENERATORS  # the static sinks (light: stdlib only)


@dataclass(frozen=True)
class CacheRule:
    """A named rule: the paths it covers and whether their pages may be cached."""

    pattern: re.Pattern[str]
    rule: str
    cached: bool

    def as_json(self) -> dict[str, object]:
        """The rule as the manifest and a rules file state it."""
        return {"pattern": self.pattern.pattern, "rule": self.rule, "cached": self.cached}


# The kinds of site, and the sinks whose targets are of a kind other than the reference site's.
ANP, WORDPRESS, STATIC = "anp", "wordpress", "static"
_KIND_OF_SINK = {"wordpress": WORDPRESS, **dict.fromkeys(GENERATORS, STATIC)}


def site_kind(sink: str) -> str:
    """The kind of site a sink writes: `static`, `wordpress` or `anp` (the reference site's)."""
    return _KIND_OF_SINK.get(sink, ANP)


def static_rules() -> list[CacheRule]:
    """A static site's rules: one, every path may be cached (no bypass for a query string)."""
    return [CacheRule(re.compile(r"^/"), STATIC, True)]


def site_rules() -> list[CacheRule]:
    """The reference site's rules (imports the site package: call it in the parent only)."""
    from anp_synth.site.cache import RULES

    return [CacheRule(r.pattern, r.name, r.ttl > 0) for r in RULES]


def parse(doc: object, where: str) -> list[CacheRule]:
    """Rules from their JSON form; InputError names `where` and the bad entry."""
    if not isinstance(doc, list):
        raise InputError(where, None, "cache_rules", "expected a list of rules")
    rules = []
    for i, entry in enumerate(doc):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("pattern"), str)
            or not isinstance(entry.get("rule"), str)
            or not isinstance(entry.get("cached"), bool)
        ):
            raise InputError(
                where, None, f"cache_rules[{i}]", 'expected {"pattern", "rule", "cached": bool}'
            )
        try:
            pattern = re.compile(entry["pattern"])
        except re.error as exc:
            raise InputError(where, None, f"cache_rules[{i}].pattern", str(exc)) from None
        rules.append(CacheRule(pattern, entry["rule"], entry["cached"]))
    return rules


def read(path: str | Path) -> list[CacheRule]:
    """Rules from a JSON file."""
    return parse(textfile.read_json(path), str(path))


def rule_for(rules: list[CacheRule], path: str) -> CacheRule | None:
    """The first rule that covers `path` (its query string ignored), or None."""
    bare = path.partition("?")[0]
    for rule in rules:
        if rule.pattern.match(bare):
            return rule
    return None
