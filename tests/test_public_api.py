"""The public API of `anp_synth`: what `__all__` promises exists, nothing else leaks,
and `import anp_synth` loads no dependency."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from importlib import metadata

import pytest

import anp_synth
import anp_synth.errors

# Submodules become attributes of the package when they are imported (by anyone);
# they are reachable, but not part of __all__.
SUBMODULES = {
    "accounts",
    "atomic",
    "cli",
    "collector",
    "contract",
    "edge",
    "errors",
    "generate",
    "importer",
    "jsonl",
    "libc",
    "loadtest",
    "post",
    "processes",
    "sinks",
    "site",
    "target",
    "textfile",
}
HEAVY = ("pydantic", "httpx", "fastapi", "locust", "gevent", "psutil", "stamina", "faker")


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


@pytest.mark.parametrize("name", anp_synth.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(anp_synth, name) is not None


def test_all_has_no_duplicates_and_dir_lists_it() -> None:
    assert len(set(anp_synth.__all__)) == len(anp_synth.__all__)
    assert dir(anp_synth) == sorted(anp_synth.__all__)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        anp_synth.nope  # noqa: B018


def test_every_error_class_is_public() -> None:
    classes = {
        name
        for name, value in vars(anp_synth.errors).items()
        if inspect.isclass(value) and value.__module__ == "anp_synth.errors"
    }
    assert classes  # the scan itself works
    assert classes <= set(anp_synth.__all__)
    assert anp_synth.ExitCode is anp_synth.errors.ExitCode


def test_nothing_else_is_exported_by_accident() -> None:
    # in a fresh process: resolve every public name (which imports the submodules), then
    # every attribute not starting with "_" must be a public name or a submodule
    code = (
        "import json, anp_synth\n"
        "for n in anp_synth.__all__: getattr(anp_synth, n)\n"
        "print(json.dumps(sorted(n for n in vars(anp_synth) if not n.startswith('_'))))\n"
    )
    public = set(json.loads(_python(code)))
    assert public - set(anp_synth.__all__) <= SUBMODULES, public - set(anp_synth.__all__)
    assert set(anp_synth.__all__) - {"__version__"} <= public


def test_a_public_name_is_not_shadowed_by_a_submodule() -> None:
    # `import anp_synth.x.y` sets the attribute `x` on the package: a public name equal
    # to a submodule's name would then be the module, not what __all__ promised
    assert not set(anp_synth.__all__) & SUBMODULES


def test_import_anp_synth_loads_no_dependency() -> None:
    code = "import json, sys, anp_synth\nprint(json.dumps(sorted(sys.modules)))\n"
    loaded = json.loads(_python(code))
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []
    ours = [m for m in loaded if m.startswith("anp_synth.")]
    assert ours == []


def test_version_is_the_installed_distribution_version() -> None:
    assert anp_synth.__version__ == metadata.version("anp-synth")
