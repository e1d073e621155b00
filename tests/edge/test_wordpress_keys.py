"""The WordPress mu-plugin that emits cache keys: its term slugs are the reference site's.

WordPress itself is not started here (tests/wordpress owns the shared one): this runs the
plugin's slug function under php-cli and compares it with anp_synth.site.terms.slugify,
which the importer uses to compute the keys it purges.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from anp_synth.cli import main
from anp_synth.site.terms import slugify

PLUGIN = (
    Path(__file__).parents[2]
    / "anp_synth"
    / "sinks"
    / "wordpress"
    / "plugin"
    / "anp-synth-keys.php"
)
NAMES = [
    "python services",
    "Ruby on Rails",
    "node.js",
    "C++",
    "  spaced  out  ",
    "crème brûlée",
    "Ünïcödé tags",
    "日本語",
    "русский",
    "x" * 100,
]


@pytest.mark.skipif(shutil.which("php") is None, reason="php-cli not installed")
def test_the_plugin_slugs_term_names_like_the_site() -> None:
    code = (
        "define('ABSPATH', '/'); function add_action() {} "
        f"require {json.dumps(str(PLUGIN))}; "
        "$names = json_decode(stream_get_contents(STDIN)); "
        "echo json_encode(array_map('anp_keys_slugify', $names));"
    )
    out = subprocess.run(
        ["php", "-r", code], input=json.dumps(NAMES), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    # A name with no latin letter gets a BLAKE2b slug on the site that PHP cannot make: null.
    expected = [None if slugify(n).startswith("t-") else slugify(n) for n in NAMES]
    assert json.loads(out.stdout) == expected
    assert expected.count(None) == 2  # 日本語, русский


@pytest.mark.skipif(shutil.which("php") is None, reason="php-cli not installed")
def test_the_plugin_is_valid_php() -> None:
    lint = subprocess.run(["php", "-l", str(PLUGIN)], capture_output=True, text=True, timeout=30)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_cli_prints_the_keys_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wordpress", "mu-plugin", "--keys"]) == 0
    assert capsys.readouterr().out == PLUGIN.read_text(encoding="utf-8")
    assert main(["wordpress", "mu-plugin"]) == 0
    assert "Plugin Name: anp-synth cache keys" not in capsys.readouterr().out
