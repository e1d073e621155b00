"""The wheel works anywhere: built from the checkout, installed into a fresh virtual
environment outside it, and run from an empty directory, the whole pipeline runs with
package data (locustfiles, templates, the WordPress plugin, vocabularies) from the
installed package, never from the source tree."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anp_synth.processes import stop_group

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[1]
PACKAGE = CHECKOUT / "anp_synth"
NOT_COPIED = (".git", ".venv", "build", "dist", "out", "*.egg-info", "__pycache__", ".*_cache")
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 900
STEP_TIMEOUT = 180


@dataclass
class Installed:
    wheel: Path
    venv: Path
    home: Path  # an empty directory outside the checkout: the cwd of every command

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def cli(self) -> str:
        return str(self.venv / "bin" / "anp-synth")

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment: no PYTHONPATH, no outer venv, none of our settings."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("ANP_")
        }
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return {**env, **extra}

    def run(self, *args: str, timeout: float = STEP_TIMEOUT, **env: str) -> str:
        """Run the installed `anp-synth ARGS` in `home`; it must exit 0. Returns stdout."""
        done = subprocess.run(
            [self.cli, *args],
            cwd=self.home,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"anp-synth {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout


def _check(cmd: list[str], timeout: float, cwd: Path) -> None:
    done = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stdout[-1000:]}{done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel of this checkout, installed (with its dependencies) into a fresh venv."""
    root = tmp_path_factory.mktemp("wheel")
    assert not root.resolve().is_relative_to(CHECKOUT)
    # Build from a copy, so the build leaves nothing behind in the checkout (build/, egg-info).
    source = root / "source"
    shutil.copytree(CHECKOUT, source, ignore=shutil.ignore_patterns(*NOT_COPIED))
    dist = root / "dist"
    _check(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), "."],
        BUILD_TIMEOUT,
        source,
    )
    (wheel,) = dist.glob("anp_synth-*.whl")
    venv = root / "venv"
    _check([sys.executable, "-m", "venv", str(venv)], BUILD_TIMEOUT, root)
    _check(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        INSTALL_TIMEOUT,
        root,
    )
    home = root / "home"
    home.mkdir()
    return Installed(wheel, venv, home)


def test_the_wheel_holds_every_file_of_the_package(installed: Installed) -> None:
    in_wheel = set(zipfile.ZipFile(installed.wheel).namelist())
    in_source = {
        path.relative_to(CHECKOUT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert in_source - in_wheel == set()
    for pattern in (
        "anp_synth/loadtest/locustfiles/*.py",
        "anp_synth/generate/data/*.json",
        "anp_synth/site/templates/*.html",
        "anp_synth/sinks/wordpress/plugin/*.php",
        "anp_synth/sinks/static/skeletons/hugo/layouts/_default/*.html",
        "anp_synth/sinks/static/skeletons/jekyll/_plugins/*.rb",
        "anp_synth/sinks/static/skeletons/eleventy/posts/*.js",
    ):
        assert any(Path(name).match(pattern) for name in in_wheel), pattern


def test_the_package_that_runs_is_the_installed_one(installed: Installed) -> None:
    code = (
        "import json, anp_synth, anp_synth.loadtest.runner as r;"
        "print(json.dumps([anp_synth.__file__, str(r.__file__)]))"
    )
    done = subprocess.run(
        [str(installed.python), "-c", code],
        cwd=installed.home,
        env=installed.env(),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=True,
    )
    venv = installed.venv.resolve()
    package_file, runner_file = (Path(p).resolve() for p in json.loads(done.stdout))
    assert package_file.is_relative_to(venv) and runner_file.is_relative_to(venv)
    package = package_file.parent
    for pattern in (
        "loadtest/locustfiles/locustfile.py",
        "generate/data/*.json",
        "site/templates/*.html",
        "sinks/wordpress/plugin/*.php",
    ):
        assert list(package.glob(pattern)), pattern


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _site(installed: Installed, db: str, timeout: float = 60) -> Iterator[str]:
    """`anp-synth site serve` in its own process group; yields its URL; stopped by pid."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with (installed.home / "site.log").open("wb") as log:
        process = subprocess.Popen(
            [
                installed.cli,
                "site",
                "serve",
                "--db",
                db,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=installed.home,
            env=installed.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                assert process.poll() is None, (installed.home / "site.log").read_text()
                assert time.monotonic() < deadline, "the site did not answer /health in time"
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"{url}/health", timeout=2) as answer,
                ):
                    if answer.status == 200:
                        break
                time.sleep(0.2)
            yield url
        finally:
            stop_group(process, 15)


def test_the_pipeline_runs_from_an_empty_directory(installed: Installed) -> None:
    home = installed.home
    assert installed.run("--version") == "anp-synth 0.1.0\n"
    installed.run("generate", "--count", "50", "-o", "posts.jsonl")
    assert (home / "posts.jsonl").read_bytes().count(b"\n") == 50
    assert "<?php" in installed.run("wordpress", "mu-plugin")
    installed.run("site", "init", "hugo", "static-site")  # the skeleton is package data
    installed.run(
        "import", "posts.jsonl", "--sink", "hugo", "--target", "static-site",
        "--ledger", "static.sqlite", "--quiet",
    )  # fmt: skip
    assert len(list((home / "static-site/content/posts").glob("*-*.md"))) == 50
    with _site(installed, "site.db") as url:
        token = (home / "site.db.token").read_text().strip()
        installed.run(
            "import", "posts.jsonl", "--target", url, "--ledger", "ledger.sqlite", "--quiet",
            ANP_TARGET_TOKEN=token,
        )  # fmt: skip
        installed.run(
            "loadtest", "--target", url, "--ledger", "ledger.sqlite", "--out", "loadtest",
            "--duration", "3s", "--users", "2", "--spawn-rate", "2",
            "--accounts", "site.db.users.json",
        )  # fmt: skip
        summary = json.loads((home / "loadtest" / "summary.json").read_text())
        assert summary["target"] == url and summary["routes"]  # it ran, and said so
        page = urllib.request.urlopen(f"{url}/", timeout=10).read().decode()  # a template
        assert "<html" in page.lower()
    assert "alphanode-002852" in installed.run("show", "2852", "--json")
    assert installed.run("show", "2852").strip()
