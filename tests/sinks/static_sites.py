"""Building a static site with its real generator, and reading what it built (for the build tests)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from html import unescape
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ELEVENTY = REPO / "tools" / "eleventy" / "node_modules" / ".bin" / "eleventy"

# generator → (the command that builds the site in its folder, the output folder)
BUILD = {
    "eleventy": ([str(ELEVENTY), "--quiet"], "_site"),
    "hugo": (["hugo", "--quiet"], "public"),
    "jekyll": (["jekyll", "build", "--quiet"], "_site"),
}


def need(program: str) -> str:
    """The program's path; a skip when it is missing (a failure under CI, which installs it)."""
    path = shutil.which(program)
    if path is None:
        message = f"{program} is not installed (bash .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def build(generator: str, root: Path) -> Path:
    """Build the site in `root`; the output folder. A failed build fails with its last lines."""
    command, out = BUILD[generator]
    if generator == "eleventy":
        need("node")
        if not ELEVENTY.exists():
            message = f"{ELEVENTY} is missing (bash scripts/static-tools.sh runs npm ci)"
            pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    else:
        need(command[0])
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        pytest.fail(f"{' '.join(command)} failed ({proc.returncode}):\n{tail}")
    return root / out


_HREF = re.compile(r'<a href="([^"]+)"')
_POSTS = re.compile(r'<ul class="posts">(.*?)</ul>', re.S)
_TERM = re.compile(r'data-term="([^"]*)"')


def listed(page: Path) -> list[str]:
    """The post links of a listing page (home, tag, category)."""
    html = page.read_text(encoding="utf-8")
    block = _POSTS.search(html)
    return _HREF.findall(block.group(1)) if block else []


def term_listings(out: Path, taxonomy: str) -> dict[str, set[str]]:
    """Each term's name (as the page says it) → the post links over all its pages."""
    found: dict[str, set[str]] = defaultdict(set)
    for page in sorted((out / taxonomy).rglob("index.html")):
        html = page.read_text(encoding="utf-8")
        term = _TERM.search(html)
        if term is not None:
            found[unescape(term.group(1))].update(listed(page))
    return dict(found)
