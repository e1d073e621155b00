"""`anp-synth` starts fast: the command modules load no library code and no heavy
dependency until a command runs (issue 9). Each check runs in a fresh interpreter."""

from __future__ import annotations

import ast
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from anp_synth import __version__
from anp_synth.cli import generate as cli_generate
from anp_synth.cli import main

# Not one of these may load for `--help` …
HEAVY = (
    "pydantic",
    "httpx",
    "fastapi",
    "starlette",
    "uvicorn",
    "locust",
    "gevent",
    "psutil",
    "stamina",
    "faker",
    "orjson",
    "jinja2",
)
# … nor any of ours but these.
LIGHT_OURS = ("anp_synth", "anp_synth.errors", "anp_synth.cli")


def _loaded(code: str, tmp_path: Path) -> list[str]:
    """The modules loaded after running `code` in a fresh interpreter (cwd `tmp_path`)."""
    code += "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def _unwanted(modules: list[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    ours = [
        m
        for m in modules
        if m.startswith("anp_synth") and not (m in LIGHT_OURS or m.startswith("anp_synth.cli."))
    ]
    return ours + [m for m in modules if m.split(".")[0] in heavy]


ALLOWED_AT_TOP = ("typer", "anp_synth", "anp_synth.errors", "anp_synth.cli")
CLI = Path(cli_generate.__file__).parent


def _top_level_imports(path: Path) -> list[str]:
    """Modules a file imports at its top level (not inside functions or TYPE_CHECKING)."""
    names: list[str] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "anp_synth":
                names += [f"anp_synth.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Try):  # the typer/click fallback in cli/__init__.py
            names += [
                n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom) and n.module
            ]
    return names


def _not_allowed(name: str) -> bool:
    if name.split(".")[0] in sys.stdlib_module_names or name == "__future__":
        return False
    if name == "anp_synth.__version__":
        return False
    return not (name in ALLOWED_AT_TOP or name.startswith(("typer.", "anp_synth.cli.", "click.")))


@pytest.mark.parametrize(
    "name",
    [
        "__init__",
        "generate",
        "site",
        "wordpress",
        "progress",
        "options",
        "tables",
        "importer",
        "loadtest",
        "varnish",
        "profile",
        "buildtest",
    ],
)
def test_a_command_module_imports_only_stdlib_typer_and_errors_at_top(name: str) -> None:
    imports = _top_level_imports(CLI / f"{name}.py")
    # the scan sees the imports (three helper modules need no typer)
    assert "typer" in imports or name in ("progress", "options", "tables")
    assert [m for m in imports if _not_allowed(m)] == []


def test_every_command_module_is_checked() -> None:
    assert {p.stem for p in CLI.glob("*.py")} == {
        "__init__",
        "buildtest",
        "generate",
        "importer",
        "loadtest",
        "options",
        "profile",
        "progress",
        "site",
        "tables",
        "varnish",
        "wordpress",
    }


def test_the_cli_imports_no_library_code(tmp_path: Path) -> None:
    assert _unwanted(_loaded("import anp_synth.cli", tmp_path)) == []


# `generate` needs the generator (orjson, Faker) and typer's option parsing (pydantic)
GENERATE_NEEDS = ("orjson", "faker", "pydantic")
NOT_FOR_GENERATE = tuple(m for m in HEAVY if m not in GENERATE_NEEDS)


def test_the_whole_cli_generates_without_server_http_or_load_test_code(tmp_path: Path) -> None:
    code = "from anp_synth.cli import main\nmain(['generate', '--count', '1', '-o', 'one.jsonl', '-q'])"
    loaded = _loaded(code, tmp_path)
    assert (tmp_path / "one.jsonl").read_bytes().count(b"\n") == 1
    assert [m for m in loaded if m.split(".")[0] in NOT_FOR_GENERATE] == []
    assert not [m for m in loaded if m.startswith(("anp_synth.importer", "anp_synth.loadtest"))]
    assert not [m for m in loaded if m.startswith(("anp_synth.sinks", "anp_synth.site"))]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"anp-synth {__version__}\n"
    assert __version__ == "0.1.0"


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    commands = (
        "generate",
        "show",
        "profile",
        "import",
        "rollback",
        "loadtest",
        "site",
        "varnish",
        "wordpress",
        "buildtest",
    )
    for command in commands:
        assert f"\n  {command} " in out, command


def test_the_cli_defaults_are_the_librarys() -> None:
    # written twice so that `--help` need not import the generator: kept equal here
    from anp_synth.generate.builder import DEFAULT_EPOCH, DEFAULT_WINDOW_DAYS
    from anp_synth.generate.dataset import DEFAULT_COUNT, DEFAULT_OUTPUT

    assert cli_generate.DEFAULT_COUNT == DEFAULT_COUNT
    assert cli_generate.DEFAULT_OUTPUT == DEFAULT_OUTPUT
    assert dt.date.fromisoformat(cli_generate.DEFAULT_EPOCH) == DEFAULT_EPOCH
    assert cli_generate.DEFAULT_WINDOW_DAYS == DEFAULT_WINDOW_DAYS
