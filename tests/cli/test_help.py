"""Rule 8 for help: every option explained, plain flags (no `<bool>`), every default shown,
one wording and one kind (a path) for `--ledger`; `--debug` after the command gets a hint."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
from typer._click.core import Command
from typer.core import TyperOption as Option

from anp_synth.cli import app, main
from anp_synth.cli.options import LEDGER_HELP


def _commands() -> Iterator[tuple[str, Command]]:
    def walk(cmd: Command, path: list[str]) -> Iterator[tuple[str, Command]]:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), cmd

    yield from walk(typer.main.get_command(app), [])


COMMANDS = dict(_commands())


def _help(capsys, name: str) -> str:
    assert main([*name.split(), "--help"]) == 0
    return capsys.readouterr().out


def _entries(text: str) -> dict[str, str]:
    """Each option's entry of a help text (flags, help, [default: …]) as one line, by flag."""
    entries: dict[str, str] = {}
    current = None
    for line in text.partition("Options:")[2].splitlines():
        found = re.match(r"^  (?:-\w, )?(--[\w-]+)", line)
        if found:
            current = found.group(1)
            entries[current] = line.strip()
        elif current and line.startswith("   "):
            entries[current] += " " + line.strip()
    return entries


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_explains_every_option_with_its_default(capsys, name: str) -> None:
    text = _help(capsys, name)
    assert "<bool>" not in text and "BOOLEAN" not in text  # a switch is a plain flag
    entries = _entries(text)
    for param in COMMANDS[name].params:
        if not isinstance(param, Option) or "--help" in param.opts:
            continue
        flag = next(o for o in param.opts if o.startswith("--"))
        assert param.help, f"{name} {flag} has no help"
        if param.is_flag or param.default in (None, ()) or param.required:
            continue
        assert "default" in entries[flag], f"{name} {flag} does not show its default"
        assert param.show_default is not False, f"{name} {flag} hides its default"


def test_ledger_is_one_path_in_one_wording_everywhere(capsys) -> None:
    with_ledger = [n for n, c in COMMANDS.items() if any("--ledger" in p.opts for p in c.params)]
    assert {"import", "status", "verify", "rollback", "loadtest", "export-targets"} <= set(
        with_ledger
    )
    for name in with_ledger:
        text = " ".join(_help(capsys, name).split())
        assert "--ledger <path> The import ledger, a SQLite file" in text, name
    assert LEDGER_HELP == "The import ledger, a SQLite file."


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["generate", "--count", "2", "--debug"], "anp-synth --debug generate …"),
        (["site", "serve", "--debug"], "anp-synth --debug site serve …"),
    ],
)
def test_debug_after_the_command_gets_a_one_line_hint(capsys, args: list[str], hint: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"error: --debug goes before the command: {hint}"]
