"""`site init`: lay out a minimal real site for a generator from the skeletons shipped as package data."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from anp_synth.errors import UsageError

GENERATORS = ("hugo", "jekyll", "eleventy")


def _copy(node: Traversable, dest: Path) -> list[Path]:
    out: list[Path] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        target = dest / child.name
        if child.is_dir():
            target.mkdir(exist_ok=True)
            out.extend(_copy(child, target))
        else:
            target.write_bytes(child.read_bytes())
            out.append(target)
    return out


def init_site(generator: str, directory: str | Path) -> list[Path]:
    """Write the skeleton of `generator` into `directory` (new or empty); the files written."""
    if generator not in GENERATORS:
        raise UsageError(
            None, f"unknown generator {generator!r}; choose from {', '.join(GENERATORS)}"
        )
    dest = Path(directory)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(None, f"{dest}: exists and is not an empty folder")
    dest.mkdir(parents=True, exist_ok=True)
    return _copy(files("anp_synth.sinks.static") / "skeletons" / generator, dest)
