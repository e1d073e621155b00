"""Rule 4: one identity per target, the same for every command and the ledger."""

from __future__ import annotations

import pytest

from anp_synth.errors import UsageError
from anp_synth.target import identity, normalise


@pytest.mark.parametrize(
    ("given", "spelled"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000//", "http://127.0.0.1:8000"),
        ("HTTP://LocalHost:8000/", "http://localhost:8000"),
        ("http://Example.COM:80/Blog/", "http://example.com/Blog"),  # a path keeps its case
        ("https://example.com:443", "https://example.com"),
        ("https://example.com:80", "https://example.com:80"),  # not https's default
        ("http://example.com:443", "http://example.com:443"),
        ("  http://127.0.0.1:8000  ", "http://127.0.0.1:8000"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("http://[::1]:80", "http://[::1]"),
        ("http://127.0.0.1:8000/wp//", "http://127.0.0.1:8000/wp"),
        ("memory://T1", "memory://T1"),
        ("MEMORY://T1", "memory://T1"),
        ("./site/", "site"),
        ("/srv/site//", "/srv/site"),
    ],
)
def test_every_spelling_of_a_target_has_one_identity(given: str, spelled: str) -> None:
    assert normalise(given) == spelled
    assert normalise(spelled) == spelled  # idempotent
    assert identity(given) == spelled


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("http://127.0.0.1:", "no port after ':'"),
        ("http://127.0.0.1:0", "port 0"),
        ("http://127.0.0.1:abc", "bad port"),
        ("http://127.0.0.1:70000", "bad port"),
        ("ftp://127.0.0.1", "expected http://HOST[:PORT]"),
        ("http://", "no host"),
        ("http:///path", "no host"),
        ("http://user:secret@127.0.0.1:8000", "credentials do not belong in the URL"),
        ("http://127.0.0.1:8000/?x=1", "no query or fragment"),
        ("http://127.0.0.1:8000/#top", "no query or fragment"),
        ("http://127.0.0.1:8000?", "no query or fragment"),
        ("memory://", "needs a NAME"),
        ("", "empty"),
    ],
)
def test_a_bad_target_is_a_usage_error_naming_it(given: str, why: str) -> None:
    with pytest.raises(UsageError) as info:
        normalise(given)
    assert info.value.option == "target" and why in info.value.reason
    assert "secret" not in str(info.value)


def test_an_old_spelling_the_rules_refuse_still_identifies_itself() -> None:
    assert identity("http://127.0.0.1:") == "http://127.0.0.1:"
