"""The target's named cache rules, as the cache inspector holds the target to them.

The reference site's rules live in one place, `anp_synth.site.cache.RULES`;
`export-targets` writes them into the targets manifest (`cache_rules`), and the
locustfile reads them from there. Another target gives its own as a JSON file
(`--cache-rules`): `[{"pattern": "^/blog/[^/]+$", "rule": "post", "cached": true}, …]`.
Stdlib only: the Locust child imports this.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from anp_synth.errors import InputError


@dataclass(frozen=True)
class CacheRule:
    """A named rule: the paths it covers and whether their pages may be cached."""

    pattern: re.Pattern[str]
    rule: str
    cached: bool

    def as_json(self) -> dict[str, object]:
        """The rule as the manifest and a rules file state it."""
        return {"pattern": self.pattern.pattern, "rule": self.rule, "cached": self.cached}


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
    try:
        doc = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise InputError(str(path), None, None, f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(str(path), None, None, f"not JSON: {exc}") from None
    return parse(doc, str(path))


def rule_for(rules: list[CacheRule], path: str) -> CacheRule | None:
    """The first rule that covers `path` (its query string ignored), or None."""
    bare = path.partition("?")[0]
    for rule in rules:
        if rule.pattern.match(bare):
            return rule
    return None
