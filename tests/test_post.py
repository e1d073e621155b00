"""anp_synth.post: a validation error as one line naming the field."""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest
from pydantic import ValidationError

from anp_synth.generate.builder import build_post
from anp_synth.post import FieldError, Post, field_errors, field_path, first_error, post_schema


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("sections", 0, "heading"), "sections[0].heading"),
        (("meta", "score", "quality"), "meta.score.quality"),
        (("tags", 3), "tags[3]"),
        ((), "(body)"),
    ],
)
def test_field_path_reads_like_the_post(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc) == path


def test_first_error_names_the_field_and_says_what_is_wrong() -> None:
    post = copy.deepcopy(build_post(1))
    post["sections"][0]["heading"] = 7
    post["meta"]["score"]["quality"] = 1000
    with pytest.raises(ValidationError) as info:
        Post.model_validate(post)
    first = first_error(info.value)
    assert first.field == "sections[0].heading"
    assert str(first) == f"sections[0].heading: {first.message}" and first.message
    fields = [e.field for e in field_errors(info.value)]
    assert fields == ["sections[0].heading", "meta.score.quality"]
    assert field_errors(info.value, 1) == [first]
    assert isinstance(first, FieldError)


IMPOSSIBLE_TIMESTAMPS = [
    "2025-13-01T00:00:00Z",  # month 13
    "2025-00-10T00:00:00Z",  # month 0
    "0000-06-01T00:00:00Z",  # year 0
    "2025-02-30T00:00:00Z",  # Feb 30
    "2023-02-29T00:00:00Z",  # Feb 29 of a common year
    "1900-02-29T00:00:00Z",  # century, not a leap year
    "2025-04-31T00:00:00Z",  # April has 30 days
    "2025-01-01T25:00:00Z",  # hour 25
    "2025-01-01T24:00:00Z",
    "2025-01-01T12:60:00Z",
    "2025-01-01T12:00:61Z",
]


@pytest.mark.parametrize("value", IMPOSSIBLE_TIMESTAMPS)
def test_an_impossible_published_at_is_refused_naming_the_field(value: str) -> None:
    post = copy.deepcopy(build_post(1))
    post["published_at"] = value
    with pytest.raises(ValidationError) as info:
        Post.model_validate(post)
    first = first_error(info.value)
    assert first.field == "published_at"
    assert "not a real" in first.message


@pytest.mark.parametrize("value", ["2025-02-30", "2025-13-01", "0000-01-01"])
def test_an_impossible_last_reviewed_is_refused_naming_the_field(value: str) -> None:
    post = copy.deepcopy(build_post(1))
    post["meta"]["revision"]["last_reviewed"] = value
    with pytest.raises(ValidationError) as info:
        Post.model_validate(post)
    assert first_error(info.value).field == "meta.revision.last_reviewed"


@pytest.mark.parametrize(
    "value", ["2024-02-29T23:59:59Z", "2000-02-29T00:00:00Z", "0001-01-01T00:00:00Z"]
)
def test_real_edge_dates_are_accepted(value: str) -> None:
    post = copy.deepcopy(build_post(1))
    post["published_at"] = value
    assert Post.model_validate(post).published_at == value


def test_the_schema_pattern_accepts_exactly_the_dates_the_model_accepts() -> None:
    """The JSON Schema's one-regex form of a date agrees with the model on every day tried."""
    schema = post_schema()
    timestamp = re.compile(schema["properties"]["published_at"]["pattern"])
    day = re.compile(schema["$defs"]["Revision"]["properties"]["last_reviewed"]["pattern"])
    years = ["0000", "0001", "0004", "0100", "0400", "1900", "2000", "2023", "2024", "9999"]
    tried = 0
    for year in years:
        for month in range(0, 14):
            for d in range(0, 33):
                text = f"{year}-{month:02d}-{d:02d}"
                try:
                    dt.date(int(year), month, d)
                    real = True
                except ValueError:
                    real = False
                assert (day.match(text) is not None) == real, text
                assert (timestamp.match(f"{text}T23:59:59Z") is not None) == real, text
                tried += 1
    for hour in range(0, 30):
        assert (timestamp.match(f"2024-01-01T{hour:02d}:00:00Z") is not None) == (hour < 24)
    assert tried == len(years) * 14 * 33


@pytest.mark.parametrize("value", ["en", "ja", "ru", "pt-BR", "zh-Hant-TW", "es-419", "haw"])
def test_a_bcp47_language_is_accepted(value: str) -> None:
    post = copy.deepcopy(build_post(1))
    post["language"] = value
    assert Post.model_validate(post).language == value


@pytest.mark.parametrize("value", ["", "en_US", "EN", "english", "e", "en-us", "ja-", 7, None])
def test_a_language_that_is_no_bcp47_tag_is_refused_naming_the_field(value: object) -> None:
    post = copy.deepcopy(build_post(1))
    post["language"] = value
    with pytest.raises(ValidationError) as info:
        Post.model_validate(post)
    assert first_error(info.value).field == "language"


def test_a_post_without_a_language_is_refused() -> None:
    post = copy.deepcopy(build_post(1))
    del post["language"]
    with pytest.raises(ValidationError) as info:
        Post.model_validate(post)
    assert first_error(info.value).field == "language"


def test_the_schema_carries_the_language_pattern() -> None:
    schema = post_schema()
    assert "language" in schema["required"]
    pattern = re.compile(schema["properties"]["language"]["pattern"])
    assert pattern.match("ja") and pattern.match("pt-BR") and not pattern.match("ja_JP")
