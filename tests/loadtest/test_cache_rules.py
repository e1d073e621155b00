"""The cache inspector's rules: the site's own, carried by the manifest, or a target's file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anp_synth.errors import InputError
from anp_synth.loadtest import cache_rules
from anp_synth.site.cache import RULES


def test_the_site_rules_are_the_sites() -> None:
    rules = cache_rules.site_rules()
    assert [(r.rule, r.cached) for r in rules] == [(r.name, r.ttl > 0) for r in RULES]
    assert cache_rules.rule_for(rules, "/posts/x?utm=1").rule == "post"  # type: ignore[union-attr]
    assert cache_rules.rule_for(rules, "/stack/rust/page/2").rule == "stack"  # type: ignore[union-attr]
    assert not cache_rules.rule_for(rules, "/search").cached  # type: ignore[union-attr]
    assert cache_rules.rule_for(rules, "/nowhere/at/all") is None


def test_a_rules_file_reads_back_and_a_bad_one_names_the_entry(tmp_path: Path) -> None:
    good = tmp_path / "rules.json"
    good.write_text(json.dumps([{"pattern": "^/blog/[^/]+$", "rule": "post", "cached": True}]))
    (rule,) = cache_rules.read(good)
    assert rule.rule == "post" and rule.cached and rule.pattern.match("/blog/x")
    assert cache_rules.parse([rule.as_json()], "again") == [rule]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"pattern": "^/a$", "rule": "a", "cached": "yes"}]))
    with pytest.raises(InputError, match=r"bad\.json.*cache_rules\[0\]"):
        cache_rules.read(bad)
    bad.write_text(json.dumps([{"pattern": "(", "rule": "a", "cached": True}]))
    with pytest.raises(InputError, match=r"cache_rules\[0\]\.pattern"):
        cache_rules.read(bad)
