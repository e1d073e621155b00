"""The accounts file: who may log in, read and checked in this one place.

    {"users": [{"username": "editor", "password": "…", "display_name": "Edith Editor"}, …]}

The reference site takes it as `site serve --users`, the load test's logged-in scenario
as `loadtest --accounts` (the same file serves both). A bad file is one InputError naming
the file, the line and the field. Standard library only: the Locust child reads it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from anp_synth import textfile
from anp_synth.errors import InputError

REQUIRED = ("username", "password")
SHAPE = '{"users": [{"username": …, "password": …}, …]}'


@dataclass(frozen=True)
class Account:
    """One user who may log in."""

    username: str
    password: str
    display_name: str

    def as_dict(self) -> dict[str, str]:
        """The entry as the file spells it."""
        return {
            "username": self.username,
            "password": self.password,
            "display_name": self.display_name,
        }


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _entry_lines(text: str) -> list[int]:
    """The line each entry of the top-level "users" array starts on (the file parsed already)."""
    decoder = json.JSONDecoder()
    at = _skip(text, 0) + 1  # past the top-level "{"
    lines: list[int] = []
    while True:
        at = _skip(text, at)
        if at >= len(text) or text[at] == "}":
            return lines
        key, at = decoder.raw_decode(text, at)
        at = _skip(text, _skip(text, at) + 1)  # past ":"
        if key != "users" or text[at] != "[":
            _, at = decoder.raw_decode(text, at)
        else:
            lines, at = [], at + 1  # the last "users" key wins, as in json.loads
            while True:
                at = _skip(text, at)
                if text[at] == "]":
                    at += 1
                    break
                lines.append(_line(text, at))
                _, at = decoder.raw_decode(text, at)
                at = _skip(text, at)
                at += 1 if text[at] == "," else 0
        at = _skip(text, at)
        at += 1 if at < len(text) and text[at] == "," else 0


def parse(text: str, path: str) -> list[Account]:
    """The accounts in `text` (the file `path`); InputError names the line and the field."""
    doc = textfile.parse_json(text, path)
    entries = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise InputError(path, None, "users", f"expected {SHAPE}")
    if not entries:
        raise InputError(path, None, "users", "no accounts: the list is empty")
    lines = _entry_lines(text)
    accounts = []
    for number, item in enumerate(entries):
        line = lines[number] if number < len(lines) else None
        if not isinstance(item, dict):
            raise InputError(path, line, f"users[{number}]", "expected an object")
        for key in REQUIRED:
            if not isinstance(item.get(key), str) or not item[key]:
                raise InputError(
                    path, line, f"users[{number}].{key}", "expected a non-empty string"
                )
        display = item.get("display_name") or item["username"]
        if not isinstance(display, str):
            raise InputError(path, line, f"users[{number}].display_name", "expected a string")
        accounts.append(Account(item["username"], item["password"], display))
    return accounts


def read(path: str | Path) -> list[Account]:
    """The accounts of a file; InputError names the file (missing, not UTF-8, …) and the line."""
    return parse(textfile.read_text(path), str(path))
