"""Profiles: the shape of every post in a dataset, read from a TOML file (format 1).

A profile is a file: the built-in ones (light, standard, heavy) ship in
`anp_synth/generate/profiles/`, and a user's file has the same format. Every key
is optional; a missing one comes from the profile named by `base` (standard by
default), so a file says only how a site differs. A count is an integer (fixed),
`[lo, hi]` (uniform) or `{ values = [...], weights = [...] }` (integer weights).
Validation names the file, the key and what is allowed, in one line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from bisect import bisect_right
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext
from importlib import resources
from itertools import accumulate
from pathlib import Path
from typing import Any

from anp_synth import textfile
from anp_synth.errors import InputError, UsageError
from anp_synth.generate import exact

FORMAT = 1
BUILTIN = ("light", "standard", "heavy")
DEFAULT = "standard"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_COUNT = 1000  # the longest list a count may ask for
# Code blocks: at most this many a post, of at most this many lines (the snippets' lines are
# at most 95 characters, so a block stays within the model's 20,000 characters and a post with
# every block at its longest within the import contract's 2 MiB).
MAX_CODE_BLOCKS = 32
MAX_CODE_LINES = 200
MAX_DISTINCT = 100_000
ZIPF_SCALE = 1 << 24


# -- distributions -----------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """A count drawn per post: uniform in lo..hi, or `values` by integer `weights`.

    `span` is the number a draw is taken below; `value_of` maps that digit to the
    count, so a count can also be one digit of a mixed-radix draw.
    """

    lo: int
    hi: int
    values: tuple[int, ...] = ()
    cumulative: tuple[int, ...] = ()

    @property
    def span(self) -> int:
        return self.cumulative[-1] if self.values else self.hi - self.lo + 1

    def value_of(self, digit: int) -> int:
        if self.values:
            return self.values[bisect_right(self.cumulative, digit)]
        return self.lo + digit

    def value_at(self, position: int) -> int:
        """The count's value number `position` (its values in order, or lo, lo+1, ...)."""
        return self.values[position] if self.values else self.lo + position

    def draw(self, draws: Any) -> int:
        """One count from `draws` (an anp_synth.generate.draws.Draws).

        A fixed count takes no draw: `below(1)` leaves a stream as it is, so skipping it
        gives the same bytes, a call cheaper. (A one-value weighted count still draws.)
        """
        # value_of(below(span)), written out: a weighted count is drawn for every code block
        if self.values:
            return self.values[bisect_right(self.cumulative, draws.below(self.cumulative[-1]))]
        if self.lo == self.hi:
            return self.lo
        return self.lo + draws.below(self.hi - self.lo + 1)

    def to_toml(self) -> str:
        if self.values:
            weights = [b - a for a, b in zip((0, *self.cumulative), self.cumulative, strict=False)]
            return f"{{ values = {list(self.values)}, weights = {weights} }}"
        if self.lo == self.hi:
            return str(self.lo)
        return f"[{self.lo}, {self.hi}]"

    @classmethod
    def weighted(cls, weights: dict[int, int]) -> Count:
        """A weighted count from value → weight (zero weights dropped)."""
        items = sorted((v, w) for v, w in weights.items() if w > 0)
        values = tuple(v for v, _ in items)
        return cls(values[0], values[-1], values, tuple(accumulate(w for _, w in items)))


def zipf_weights(n: int, exponent: str) -> list[int]:
    """Cumulative integer Zipf weights ⌊2^24/(rank+1)^s⌋ for n ranks (rank 0 most frequent).

    Exponent 1 is integer division (the weights of every built-in profile); any
    other is the floor `decimal` computes (software arithmetic, the same on every
    machine), never a float's. `exact.floor_power` finds the same floor in integers,
    ~30 times cheaper; a weight it cannot tell (an exact power, as for s = 2) is
    `decimal`'s.
    """
    s = Decimal(exponent)
    if s == 1:
        return list(accumulate(ZIPF_SCALE // (rank + 1) for rank in range(n)))
    # a rank's weight does not depend on n: they are made once per exponent (a builder asks
    # for several n: every stack's tags), and each new list replaces the old one whole
    weights = _zipf_ranks.get(s, [])
    if len(weights) < n:
        thousandths = s * 1000  # a profile's exponent has at most 3 decimals (validated)
        fast = int(thousandths) if thousandths == int(thousandths) and 0 < s <= 4 else None
        weights = _zipf_ranks[s] = weights + [
            max(1, _zipf_weight(rank, s, fast)) for rank in range(len(weights), n)
        ]
    return list(accumulate(weights[:n]))


def _zipf_weight(rank: int, s: Decimal, thousandths: int | None) -> int:
    """⌊2^24/(rank+1)^s⌋: `decimal`'s floor, found in integers where they can tell it."""
    if thousandths is not None:
        floor = exact.floor_power(ZIPF_SCALE, rank + 1, thousandths)
        if floor is not None:
            return floor
    with localcontext() as ctx:
        ctx.prec = 34
        quotient = Decimal(ZIPF_SCALE) / (Decimal(rank + 1) ** s)
        return int(quotient.to_integral_value(ROUND_FLOOR))


_zipf_ranks: dict[Decimal, list[int]] = {}


# -- the profile -------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """A resolved profile: every knob set. `source` is the TOML it was read from."""

    name: str
    production_paragraphs: Count
    final_paragraphs: Count
    closer_per_mille: int
    sentences_lead: Count
    sentences_production: Count
    sentences_final: Count
    sentences_summary: Count
    sentences_brief: Count
    images: Count
    code_blocks: Count
    code_lines: Count  # lines of each block; 0: one whole snippet of the stack, as written
    checklist: Count
    tools: Count
    extra_tools: Count
    notes: Count
    similar: Count
    tool_entities: bool
    tags: Count
    stack_tags: bool
    distinct_tags: int
    tags_zipf: str
    distinct_stacks: int
    stacks_zipf: str
    distinct_authors: int
    authors_zipf: str
    view_median: int
    view_sigma: str
    window_days: int
    epoch: dt.date | None  # the day the window ends at; None: the generator's default
    weekend_redraw_per_mille: int
    weekdays: tuple[int, ...]  # Mon..Sun weights; () = the weekend-redraw rhythm
    hours: tuple[int, ...]  # 24 weights; () = the midday-peaked default
    locales: tuple[tuple[str, int], ...]  # (locale, weight); () = the --locale
    heavy: str  # a built-in profile some posts are built with; "" for none
    heavy_per_mille: int
    source: str = ""
    path: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def to_toml(self) -> str:
        """The resolved profile as a complete profile file (every key)."""
        return render(self)


# Every key of the format: section → key → kind. The one place the format is written.
_KEYS: dict[str, dict[str, str]] = {
    "": {"format": "format", "name": "name", "base": "base"},
    "body": {
        "production_paragraphs": "count",
        "final_paragraphs": "count",
        "closer_per_mille": "per_mille",
    },
    "sentences": {
        "lead": "count1",
        "production": "count1",
        "final": "count1",
        "summary": "count1",
        "brief": "count1",
    },
    "images": {"per_post": "count1"},
    "code": {"per_post": "code_blocks", "lines": "code_lines"},
    "meta": {
        "checklist": "count",
        "tools": "count",
        "extra_tools": "count",
        "notes": "count",
        "similar": "count",
        "tool_entities": "bool",
    },
    "tags": {"per_post": "count", "stack_tags": "bool", "distinct": "distinct", "zipf": "zipf"},
    "stacks": {"distinct": "distinct", "zipf": "zipf"},
    "authors": {"distinct": "distinct", "zipf": "zipf"},
    "views": {"median": "positive", "sigma": "sigma"},
    "published": {
        "window_days": "positive",
        "epoch": "date",
        "weekend_redraw_per_mille": "per_mille",
        "weekdays": "weekdays",
        "hours": "hours",
    },
    "mix": {"locales": "locales", "heavy": "heavy", "heavy_per_mille": "per_mille"},
}

_ALLOWED = {
    "count": "an integer 0..1000, [lo, hi] or { values = [...], weights = [...] }",
    "count1": "an integer 1..1000, [lo, hi] or { values = [...], weights = [...] }",
    "code_blocks": f"an integer 0..{MAX_CODE_BLOCKS}, [lo, hi] or {{ values = [...], weights = [...] }}",
    "code_lines": f"an integer 0..{MAX_CODE_LINES} (0: a whole snippet), [lo, hi] or {{ values = [...], weights = [...] }}",
    "per_mille": "an integer 0..1000",
    "bool": "true or false",
    "distinct": f"an integer 1..{MAX_DISTINCT}",
    "zipf": "a number 0..4 (at most 3 decimals)",
    "positive": "a positive integer",
    "date": "a date YYYY-MM-DD",
    "sigma": "a number 0.01..4 (at most 3 decimals)",
    "weekdays": "a table of weights mon..sun (integers >= 0, not all 0)",
    "hours": "24 integer weights >= 0 (hour 0..23), not all 0",
    "locales": "a table locale → integer weight >= 0, not all 0",
    "heavy": 'a built-in profile name or ""',
    "format": f"{FORMAT}",
    "name": "a name of letters, digits, - and _ (1..64 characters)",
    "base": f"one of {', '.join(BUILTIN)}",
}


class _Bad(Exception):
    """A value that is not what its key allows (why, in words)."""


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"got {value!r}")
    return value


def _count(value: Any, low: int, high: int = MAX_COUNT) -> Count:
    if isinstance(value, list):
        if len(value) != 2:
            raise _Bad(f"a range is [lo, hi], got {value!r}")
        lo, hi = _int(value[0]), _int(value[1])
        if not low <= lo <= hi <= high:
            raise _Bad(f"need {low} <= lo <= hi <= {high}, got {value!r}")
        return Count(lo, hi)
    if isinstance(value, dict):
        if set(value) != {"values", "weights"}:
            raise _Bad(f"a weighted count has exactly values and weights, got {sorted(value)}")
        values, weights = value["values"], value["weights"]
        if not isinstance(values, list) or not isinstance(weights, list) or not values:
            raise _Bad("values and weights are non-empty lists")
        if len(values) != len(weights):
            raise _Bad(f"{len(values)} values but {len(weights)} weights")
        table: dict[int, int] = {}
        for v, w in zip(values, weights, strict=True):
            v, w = _int(v), _int(w)
            if not low <= v <= high or w < 0 or v in table:
                raise _Bad(f"values distinct in {low}..{high}, weights >= 0; got {v} → {w}")
            table[v] = w
        if not any(table.values()):
            raise _Bad("the weights are all 0")
        return Count.weighted(table)
    n = _int(value)
    if not low <= n <= high:
        raise _Bad(f"got {n}")
    return Count(n, n)


def _decimal(value: Any, lo: str, hi: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"got {value!r}")
    number = Decimal(repr(value))  # the shortest repr: the same on every machine
    if not Decimal(lo) <= number <= Decimal(hi) or -number.as_tuple().exponent > 3:  # type: ignore[operator]
        raise _Bad(f"got {value!r}")
    return str(number.normalize()) if number != number.to_integral_value() else str(int(number))


def _weights(value: Any, n: int) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise _Bad(f"got {value!r}")
    weights = tuple(_int(w) for w in value)
    if any(w < 0 for w in weights) or not any(weights):
        raise _Bad(f"got {value!r}")
    return weights


def _check(kind: str, value: Any) -> Any:
    """The value of a key of `kind`, checked (raises _Bad)."""
    if kind in ("count", "count1"):
        return _count(value, 0 if kind == "count" else 1)
    if kind == "code_blocks":
        return _count(value, 0, MAX_CODE_BLOCKS)
    if kind == "code_lines":
        return _count(value, 0, MAX_CODE_LINES)
    if kind == "per_mille":
        n = _int(value)
        if not 0 <= n <= 1000:
            raise _Bad(f"got {n}")
        return n
    if kind == "bool":
        if not isinstance(value, bool):
            raise _Bad(f"got {value!r}")
        return value
    if kind in ("distinct", "positive"):
        n = _int(value)
        if n < 1 or (kind == "distinct" and n > MAX_DISTINCT):
            raise _Bad(f"got {n}")
        return n
    if kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise _Bad(f"got {value!r}") from None
    if kind == "zipf":
        return _decimal(value, "0", "4")
    if kind == "sigma":
        return _decimal(value, "0.01", "4")
    if kind == "weekdays":
        if not isinstance(value, dict) or set(value) - set(WEEKDAYS):
            raise _Bad(f"got {value!r}")
        return _weights([value.get(day, 0) for day in WEEKDAYS], 7) if value else ()
    if kind == "hours":
        return _weights(value, 24) if value != [] else ()
    if kind == "locales":
        from anp_synth.generate.vocab import supported_locales

        if not isinstance(value, dict):
            raise _Bad(f"got {value!r}")
        unknown = sorted(set(value) - set(supported_locales()))
        if unknown:
            raise _Bad(f"unknown locale {unknown[0]!r} (known: {', '.join(supported_locales())})")
        if not value:
            return ()
        weights = _weights(list(value.values()), len(value))
        return tuple(zip(value, weights, strict=True))
    if kind == "heavy":
        if value not in ("", *BUILTIN):
            raise _Bad(f"got {value!r}")
        return value
    if kind == "format":
        if value != FORMAT:
            raise _Bad(f"got {value!r}")
        return value
    if kind == "name":
        if (
            not isinstance(value, str)
            or not 1 <= len(value) <= 64
            or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in value)
        ):
            raise _Bad(f"got {value!r}")
        return value
    if kind == "base":
        if value not in BUILTIN:
            raise _Bad(f"got {value!r}")
        return value
    raise AssertionError(kind)  # pragma: no cover - _KEYS names only kinds handled above


def _checked(document: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Every key of a parsed file checked: section → key → value (raises InputError)."""
    out: dict[str, dict[str, Any]] = {section: {} for section in _KEYS}
    for key, value in document.items():
        if key in _KEYS[""]:
            out[""][key] = _value(where, key, "", value)
            continue
        if key not in _KEYS or key == "":
            raise InputError(where, None, key, f"unknown key; allowed: {_allowed_keys('')}")
        if not isinstance(value, dict):
            raise InputError(where, None, key, "must be a table ([section])")
        for sub, subvalue in value.items():
            if sub not in _KEYS[key]:
                raise InputError(
                    where, None, f"{key}.{sub}", f"unknown key; allowed: {_allowed_keys(key)}"
                )
            out[key][sub] = _value(where, sub, key, subvalue)
    return out


def _value(where: str, key: str, section: str, value: Any) -> Any:
    kind = _KEYS[section][key]
    try:
        return _check(kind, value)
    except _Bad as exc:
        dotted = f"{section}.{key}" if section else key
        raise InputError(where, None, dotted, f"must be {_ALLOWED[kind]}; {exc}") from None


def _allowed_keys(section: str) -> str:
    if section == "":
        return ", ".join([*_KEYS[""], *(f"[{s}]" for s in _KEYS if s)])
    return ", ".join(_KEYS[section])


def _parse(text: str, where: str) -> dict[str, dict[str, Any]]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(where, None, None, f"not valid TOML: {exc}") from None
    return _checked(document, where)


def _merge(base: dict[str, dict[str, Any]], over: dict[str, dict[str, Any]]) -> dict:
    return {section: {**base.get(section, {}), **over.get(section, {})} for section in _KEYS}


def _build(values: dict[str, dict[str, Any]], source: str, path: str | None) -> Profile:
    b, s, m = values["body"], values["sentences"], values["meta"]
    t, p, x = values["tags"], values["published"], values["mix"]
    return Profile(
        name=values[""]["name"],
        production_paragraphs=b["production_paragraphs"],
        final_paragraphs=b["final_paragraphs"],
        closer_per_mille=b["closer_per_mille"],
        sentences_lead=s["lead"],
        sentences_production=s["production"],
        sentences_final=s["final"],
        sentences_summary=s["summary"],
        sentences_brief=s["brief"],
        images=values["images"]["per_post"],
        code_blocks=values["code"]["per_post"],
        code_lines=values["code"]["lines"],
        checklist=m["checklist"],
        tools=m["tools"],
        extra_tools=m["extra_tools"],
        notes=m["notes"],
        similar=m["similar"],
        tool_entities=m["tool_entities"],
        tags=t["per_post"],
        stack_tags=t["stack_tags"],
        distinct_tags=t["distinct"],
        tags_zipf=t["zipf"],
        distinct_stacks=values["stacks"]["distinct"],
        stacks_zipf=values["stacks"]["zipf"],
        distinct_authors=values["authors"]["distinct"],
        authors_zipf=values["authors"]["zipf"],
        view_median=values["views"]["median"],
        view_sigma=values["views"]["sigma"],
        window_days=p["window_days"],
        epoch=p.get("epoch"),
        weekend_redraw_per_mille=p["weekend_redraw_per_mille"],
        weekdays=p.get("weekdays", ()),
        hours=p.get("hours", ()),
        locales=x.get("locales", ()),
        heavy=x.get("heavy", ""),
        heavy_per_mille=x.get("heavy_per_mille", 0),
        source=source,
        path=path,
    )


def _builtin_text(name: str) -> str:
    return (
        resources.files("anp_synth.generate")
        .joinpath("profiles", f"{name}.toml")
        .read_text("utf-8")
    )


_cache: dict[tuple[str, str | None], Profile] = {}


def _builtin_values(name: str) -> dict[str, dict[str, Any]]:
    """A built-in file's values: complete in itself (no base)."""
    return _parse(_builtin_text(name), f"{name}.toml (built-in)")


def from_text(text: str, where: str, path: str | None = None) -> Profile:
    """A profile from TOML text; `where` names it in errors."""
    key = (text, path)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    values = _parse(text, where)
    base = values[""].get("base", DEFAULT)
    merged = _merge(_builtin_values(base), values)
    # a file's own name (or its stem): never its base's, so its streams are its own
    merged[""]["name"] = values[""].get("name") or (_stem(path) if path else "custom")
    _require_sizes(merged, where)
    profile = _cache[key] = _build(merged, text, path)
    return profile


def _require_sizes(values: dict[str, dict[str, Any]], where: str) -> None:
    """Cross-key checks: cardinalities the vocabulary can give."""
    from anp_synth.generate.vocab import locale_pools, vocabulary

    vocab = vocabulary()
    limits = (
        ("stacks", len(vocab.stacks)),
        ("authors", len(locale_pools("en_US").authors)),
    )
    for section, most in limits:
        n = values[section]["distinct"]
        if n > most:
            raise InputError(
                where, None, f"{section}.distinct", f"must be 1..{most} (the vocabulary), got {n}"
            )
    mix = values["mix"]
    if mix.get("heavy_per_mille", 0) and not mix.get("heavy"):
        raise InputError(
            where, None, "mix.heavy", "must name a built-in profile when mix.heavy_per_mille > 0"
        )


def _stem(path: str) -> str:
    stem = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in Path(path).stem
    )
    return stem[:64] or "custom"


def builtin(name: str) -> Profile:
    """A built-in profile by name."""
    if name not in BUILTIN:
        raise UsageError("profile", f"unknown {name!r}; choose one of {', '.join(BUILTIN)}")
    return from_text(_builtin_text(name), f"{name}.toml (built-in)")


def load(path: str | Path) -> Profile:
    """A profile file (UTF-8 TOML)."""
    where = str(path)
    if not Path(path).exists():
        raise UsageError("profile", f"no such file {where!r}")
    text = textfile.read_text(path)
    return from_text(text, where, where)


def resolve(profile: str | Profile) -> Profile:
    """A Profile as is, a built-in name, or the path of a profile file."""
    if isinstance(profile, Profile):
        return profile
    if profile in BUILTIN:
        return builtin(profile)
    if profile.endswith(".toml") or "/" in profile or Path(profile).is_file():
        return load(profile)
    raise UsageError(
        "profile", f"unknown {profile!r}; choose one of {', '.join(BUILTIN)} or a .toml file"
    )


# -- writing -----------------------------------------------------------------


def render(profile: Profile, comment: str = "") -> str:
    """A complete profile file for `profile` (what `profile show` prints and `fit` writes)."""
    p = profile
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines += [
        '# anp-synth profile (format 1); see the README, "Shape posts like your site".',
        f"format = {FORMAT}",
        f'name = "{p.name}"',
        "",
        "[body]",
        f"production_paragraphs = {p.production_paragraphs.to_toml()}",
        f"final_paragraphs = {p.final_paragraphs.to_toml()}",
        f"closer_per_mille = {p.closer_per_mille}",
        "",
        "[sentences]",
        f"lead = {p.sentences_lead.to_toml()}",
        f"production = {p.sentences_production.to_toml()}",
        f"final = {p.sentences_final.to_toml()}",
        f"summary = {p.sentences_summary.to_toml()}",
        f"brief = {p.sentences_brief.to_toml()}",
        "",
        "[images]",
        f"per_post = {p.images.to_toml()}",
        "",
        "[code]",
        f"per_post = {p.code_blocks.to_toml()}",
        f"lines = {p.code_lines.to_toml()}",
        "",
        "[meta]",
        f"checklist = {p.checklist.to_toml()}",
        f"tools = {p.tools.to_toml()}",
        f"extra_tools = {p.extra_tools.to_toml()}",
        f"notes = {p.notes.to_toml()}",
        f"similar = {p.similar.to_toml()}",
        f"tool_entities = {'true' if p.tool_entities else 'false'}",
        "",
        "[tags]",
        f"per_post = {p.tags.to_toml()}",
        f"stack_tags = {'true' if p.stack_tags else 'false'}",
        f"distinct = {p.distinct_tags}",
        f"zipf = {p.tags_zipf}",
        "",
        "[stacks]",
        f"distinct = {p.distinct_stacks}",
        f"zipf = {p.stacks_zipf}",
        "",
        "[authors]",
        f"distinct = {p.distinct_authors}",
        f"zipf = {p.authors_zipf}",
        "",
        "[views]",
        f"median = {p.view_median}",
        f"sigma = {p.view_sigma}",
        "",
        "[published]",
        f"window_days = {p.window_days}",
        *([f"epoch = {p.epoch.isoformat()}"] if p.epoch else []),
        f"weekend_redraw_per_mille = {p.weekend_redraw_per_mille}",
    ]
    if p.weekdays:
        days = ", ".join(f"{d} = {w}" for d, w in zip(WEEKDAYS, p.weekdays, strict=True))
        lines.append(f"weekdays = {{ {days} }}")
    if p.hours:
        lines.append(f"hours = {list(p.hours)}")
    lines += ["", "[mix]"]
    if p.locales:
        lines.append("locales = { " + ", ".join(f"{loc} = {w}" for loc, w in p.locales) + " }")
    lines += [f'heavy = "{p.heavy}"', f"heavy_per_mille = {p.heavy_per_mille}"]
    return "\n".join(lines) + "\n"
