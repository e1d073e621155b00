"""The post: pydantic models for every element of the seed article, and its JSON Schema.

The generator builds plain dicts on its hot path (speed); these models are the
contract those dicts obey, checked in tests, by the importer on input and by
the reference site on every write.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from anp_synth.jsonl import content_hash

# ASCII digits only ([0-9], not \d): Python's and the schema validators' \d take any script's.
SOURCE_ID_RE = r"^alphanode-[0-9]{6}$"
SLUG_RE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
HASH_RE = r"^[0-9a-f]{24}$"
REFERENCE_RE = r"^anp-ref-[0-9]{6}-[0-9]{4}$"
# A BCP 47 language tag in its canonical case (RFC 5646 §2.1.1): a language, an optional
# script and an optional region: `en`, `ja`, `pt-BR`, `zh-Hant-TW`, `es-419`.
LANGUAGE_RE = r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$"
# The largest integer a post holds: I-JSON's interoperable range (RFC 7493), which every JSON
# parser, SQLite and the site's orjson read exactly.
MAX_INT = 2**53 - 1

Difficulty = Literal["beginner", "intermediate", "advanced", "expert"]

TIMESTAMP_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

# The same dates as one regular expression, for the JSON Schema (a client that generates or
# checks posts from the schema alone then agrees with the model): years 0001-9999, each
# month's own length, Feb 29 in leap years only, hours 00-23.
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)"
    "|(?:0[13578]|1[02])-31)"
)
_DAY = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP}-02-29)"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
EXACT_DATE_RE = f"^{_DAY}$"
EXACT_TIMESTAMP_RE = f"^{_DAY}T{_TIME}Z$"

_source_id = re.compile(SOURCE_ID_RE)
_language = re.compile(LANGUAGE_RE)


def is_language(value: object) -> bool:
    """True when `value` is a language tag a post may carry (see LANGUAGE_RE)."""
    return isinstance(value, str) and _language.match(value) is not None


def _real_moment(value: str) -> str:
    """The value if the day it names exists (no month 13, Feb 30 or year 0) and, in a
    timestamp, its time too (no hour 25 or minute 60): one rule for dates and timestamps."""
    parts: list[tuple[str, Callable[..., object], tuple[str, str, str]]] = [
        ("date", dt.date, (value[0:4], value[5:7], value[8:10]))
    ]
    if len(value) > len("YYYY-MM-DD"):  # the pattern already held: a timestamp
        parts.append(("time", dt.time, (value[11:13], value[14:16], value[17:19])))
    for kind, make, digits in parts:
        try:
            make(*map(int, digits))
        except ValueError as exc:
            raise PydanticCustomError(
                f"{kind}_value", f"not a real {kind} ({{reason}})", {"reason": str(exc)}
            ) from None
    return value


def _whole_number(value: Any) -> Any:
    """JSON Schema's integer: `1.0` is the integer 1 (strict mode still refuses "1" and true)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The model is strict (a string is never read as a number, nor a number as a string); an
# integer may be written as `1.0`, which JSON Schema counts as an integer too.
Integer = Annotated[int, BeforeValidator(_whole_number)]

# Dates are strings in the post (the generator's exact bytes), checked as dates here so that
# generate, the importer and the site refuse the same impossible ones.
Timestamp = Annotated[
    str,
    Field(pattern=TIMESTAMP_RE, json_schema_extra={"pattern": EXACT_TIMESTAMP_RE}),
    AfterValidator(_real_moment),
]
Date = Annotated[
    str,
    Field(pattern=DATE_RE, json_schema_extra={"pattern": EXACT_DATE_RE}),
    AfterValidator(_real_moment),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Image(_Strict):
    source: str = Field(max_length=200)
    url: str = Field(max_length=2000)
    caption: str = Field(max_length=2000)


class Section(_Strict):
    heading: str = Field(max_length=500)
    paragraphs: list[str]


class Code(_Strict):
    language: str = Field(max_length=50)
    source: str = Field(max_length=20000)


class Outline(_Strict):
    context: str
    problem: str
    stack: str
    recommended_action: str


class Score(_Strict):
    quality: Integer = Field(ge=0, le=100)
    freshness: Integer = Field(ge=0, le=100)
    depth: Integer = Field(ge=0, le=100)
    clarity: Integer = Field(ge=0, le=100)


class Revision(_Strict):
    status: str
    version: str
    last_reviewed: Date


class Flags(_Strict):
    ai_generated_style: Integer = Field(ge=0, le=1)
    has_images: Integer = Field(ge=0, le=1)
    image_heavy: Integer = Field(ge=0, le=1)
    needs_human_review: Integer = Field(ge=0, le=1)


class Entity(_Strict):
    name: str
    type: str


class Payload(_Strict):
    source_id: str = Field(pattern=SOURCE_ID_RE)
    generator: str
    paragraphs: Integer = Field(ge=0, le=MAX_INT)
    scenario: str
    seed: Integer = Field(ge=0, le=999_999)


class Meta(_Strict):
    """The post-meta box ("alphanode post meta")."""

    topic: str
    summary: str
    outline: Outline
    brief: str
    stack: list[str]
    tools: list[str]
    code_language: str
    difficulty: Difficulty
    reading_time: Integer = Field(ge=1, le=MAX_INT)
    view_count: Integer = Field(ge=0, le=MAX_INT)
    score: Score
    revision: Revision
    reference: str = Field(pattern=REFERENCE_RE)
    hash: str = Field(pattern=HASH_RE)
    flags: Flags
    checklist: list[str]
    entities: list[Entity]
    image_sources: list[Image]
    payload: Payload
    notes: list[str]


class Post(_Strict):
    """One synthetic article; `source_id` (derived from the seed) is its identity."""

    source_id: str = Field(pattern=SOURCE_ID_RE)
    seed: Integer = Field(ge=0, le=999_999)
    locale: str
    language: str = Field(pattern=LANGUAGE_RE, max_length=35)  # BCP 47, for `lang`
    title: str = Field(min_length=1, max_length=1000)
    slug: str = Field(pattern=SLUG_RE, max_length=200)
    author: str
    published_at: Timestamp
    lead: str
    image: Image
    sections: list[Section]
    code: list[Code]  # in reading order; anp_synth.layout says where each block goes
    checklist: list[str]
    tags: list[str]
    meta: Meta
    similar: list[str]


class CheckedPost(dict[str, Any]):
    """A post the model has accepted, with its content hash (`anp_synth.jsonl.content_hash`):
    what the importer hands a sink. A sink checks and hashes a plain dict itself; a
    CheckedPost it takes as checked (the check runs once, where the post is read). Made by
    `checked` only, and never changed after."""

    __slots__ = ("content_hash",)
    content_hash: str


def checked(value: dict[str, Any]) -> CheckedPost:
    """`value` checked by the model (ValidationError) and hashed: a CheckedPost."""
    if type(value) is CheckedPost:
        return value
    Post.model_validate(value)
    out = CheckedPost(value)
    out.content_hash = content_hash(value)
    return out


def post_schema() -> dict[str, Any]:
    """The JSON Schema of a post, as `anp-synth schema` prints it."""
    return Post.model_json_schema()


def is_source_id(value: str) -> bool:
    """True when `value` looks like `alphanode-NNNNNN`."""
    return _source_id.match(value) is not None


@dataclass(frozen=True, slots=True)
class FieldError:
    """One way a post breaks the model: the field's path and what is wrong with it."""

    field: str  # `sections[0].heading`, `meta.score.quality`, `(body)` for the post itself
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def field_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a field path: `sections[0].heading`, `meta.score.quality`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(body)"


class _Invalid(Protocol):
    """pydantic's ValidationError, or FastAPI's RequestValidationError: both list `errors()`."""

    def errors(self) -> Sequence[Any]: ...


def field_errors(exc: _Invalid, limit: int | None = None) -> list[FieldError]:
    """Every error of a validation error (or the first `limit`), each naming its field."""
    return [FieldError(field_path(e["loc"]), e["msg"]) for e in exc.errors()[:limit]]


def first_error(exc: ValidationError) -> FieldError:
    """The first error of a ValidationError, naming its field: the one line a message shows."""
    return field_errors(exc, 1)[0]
