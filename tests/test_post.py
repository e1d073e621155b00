"""anp_synth.post: a validation error as one line naming the field."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from anp_synth.generate.builder import build_post
from anp_synth.post import FieldError, Post, field_errors, field_path, first_error


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
