"""One Settings from the CLI to the locustfile: one default, one check, one document."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import typer

from anp_synth.cli import app
from anp_synth.errors import InputError, UsageError
from anp_synth.loadtest.settings import DEFAULT_WEIGHTS, Settings, Think, weights_text

LOCUSTFILES = Path(__file__).resolve().parents[2] / "anp_synth" / "loadtest" / "locustfiles"


def loadtest_options() -> dict[str, str]:
    """`anp-synth loadtest`'s parameters: name → help text (introspected from the typer app)."""
    command = typer.main.get_command(app).commands["loadtest"]  # type: ignore[attr-defined]
    return {p.name: p.help or "" for p in command.params}


def locust_options() -> dict[str, str]:
    """The locustfile's --anp-* options as Locust's own parser has them: flag → dest."""
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import anp_support;"
        "from locust.argument_parser import get_parser;"
        "print(json.dumps({a.option_strings[0]: a.dest for a in get_parser()._actions"
        " if a.option_strings and a.option_strings[0].startswith('--anp-')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(LOCUSTFILES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_locustfile_option_is_an_anp_synth_loadtest_option() -> None:
    locust = locust_options()
    cli = loadtest_options()
    assert {"--anp-similar", "--anp-cache-rules", "--anp-hit-tries", "--anp-page-size"} <= set(
        locust
    )
    settings_fields = {f.name for f in fields(Settings)}
    for flag, dest in locust.items():
        if flag == "--anp-settings":
            continue  # the whole Settings at once: what `anp-synth loadtest` passes
        name = dest.removeprefix("anp_")
        assert name in settings_fields, f"{flag} fills no Settings field"
        assert name in cli, f"{flag} (Settings.{name}) has no anp-synth loadtest option"


def test_every_setting_is_an_option_and_the_help_states_its_default() -> None:
    cli = loadtest_options()
    defaults = Settings()
    for f in fields(Settings):
        assert f.name in cli, f"Settings.{f.name} has no anp-synth loadtest option"
        value = getattr(defaults, f.name)
        if value is None or f.name == "weights" or isinstance(value, bool):
            continue  # unset, the weights (below), a flag (off unless given)
        shown = f"{value:g}" if isinstance(value, float) else str(value)  # 10.0 → "10"
        match = re.search(r"\(default ([^):]+)", " ".join(cli[f.name].split()))
        if match is None:
            assert f.name in {"target"}, f"--{f.name}: the help states no default"
            continue
        assert match.group(1).rstrip(".") == shown, (f.name, cli[f.name])
    assert weights_text(DEFAULT_WEIGHTS) in " ".join(cli["weights"].split())


def test_the_document_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    settings = Settings.from_values(
        {
            "target": "http://127.0.0.1:9",
            "out": str(tmp_path),
            "manifest": tmp_path / "m.json",
            "duration": "1m30s",
            "think": "0.1,0.4",
            "weights": "reader=2,member=0",
            "users": "7",
            "similar": 0.5,
            "hit_tries": 3,
            "page_size": 10,
            "cache_rules": "rules.json",
        }
    )
    assert settings.duration == 90 and settings.think == Think(0.1, 0.4)
    assert settings.weight("reader") == 2 and settings.weight("browser") == 3
    assert settings.weight("member") == 0 and settings.weight("mine") == 1
    path = settings.write(tmp_path / "settings.json")
    assert Settings.read(path) == settings
    assert Settings.read(Settings().write(tmp_path / "defaults.json")) == Settings()


@pytest.mark.parametrize(
    ("values", "concept"),
    [
        ({"think": "2,1"}, "think"),
        ({"think": "fast"}, "think"),
        ({"weights": "reader=x"}, "weights"),
        ({"weights": "robot=1"}, "weights"),
        ({"users": "0"}, "users"),
        ({"users": "many"}, "users"),
        ({"similar": 1.5}, "similar"),
        ({"hit_tries": 0}, "hit_tries"),
        ({"page_size": 0}, "page_size"),
        ({"cpu_limit": 0}, "cpu_limit"),
        ({"duration": "soon"}, "duration"),
        ({"target": "ftp://x"}, "target"),
        ({"min_effect": -1}, "min_effect"),
    ],
)
def test_a_bad_value_names_its_concept(values: dict[str, object], concept: str) -> None:
    with pytest.raises(UsageError, match=f"^{concept}: "):
        Settings.from_values(values)


def test_your_own_locustfile_may_weigh_its_own_scenarios() -> None:
    settings = Settings.from_values({"weights": "spinner=2", "locustfile": "mine.py"})
    assert settings.weight("spinner") == 2


def test_a_bad_document_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    doc = Settings().document()
    (tmp_path / "bad.json").write_text(json.dumps({**doc, "think": "9,1"}))
    with pytest.raises(InputError, match=r"bad\.json.*'think'"):
        Settings.read(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text(json.dumps({**doc, "format": "x"}))
    with pytest.raises(InputError, match="format"):
        Settings.read(tmp_path / "old.json")
    (tmp_path / "odd.json").write_text(json.dumps({**doc, "colour": "red"}))
    with pytest.raises(UsageError, match="colour"):
        Settings.read(tmp_path / "odd.json")


PLAIN = r"""
import json, sys, types
sys.path.insert(0, sys.argv[1])
import anp_support
from locust.argument_parser import get_parser

def settings(*args):
    opts = get_parser().parse_args(["-f", "x.py", *args])
    try:
        return anp_support.read_settings(opts, "http://127.0.0.1:9").document()
    except SystemExit as exc:
        return str(exc)

print(json.dumps({
    "plain": settings("--anp-data", "t.json", "--anp-think", "0.1,0.2", "--anp-similar", "0"),
    "bad": settings("--anp-data", "t.json", "--anp-think", "fast"),
    "file": settings("--anp-settings", sys.argv[2]),
    "both": settings("--anp-settings", sys.argv[2], "--anp-hit-tries", "2"),
}))
"""


def test_plain_locust_options_fill_the_same_settings(tmp_path: Path) -> None:
    written = Settings(target="http://127.0.0.1:9", hit_tries=4).write(tmp_path / "s.json")
    result = subprocess.run(
        [sys.executable, "-c", PLAIN, str(LOCUSTFILES), str(written)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    expected = Settings(
        target="http://127.0.0.1:9", manifest=Path("t.json"), think=Think(0.1, 0.2), similar=0.0
    )
    assert out["plain"] == expected.document()  # every other field: the one default
    assert out["bad"].startswith("error: --anp-think: expected MIN,MAX")
    assert out["file"]["hit_tries"] == 4
    assert "use one or the other" in out["both"]


def test_the_cli_module_imports_no_library_at_its_top() -> None:
    code = (
        "import sys, anp_synth.cli.loadtest;"
        "sys.exit(1 if any(m.startswith('anp_synth.loadtest') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
