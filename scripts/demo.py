"""`make demo`: run the whole pipeline on the embedded default, in one directory.

Stage 1 (generate) → stage 2 (serve the reference site, import) → stage 3 (load test).
Each stage is added here as it lands; every process started is stopped by its pid.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

from anp_synth.site.launcher import SiteProcess

CLI = [sys.executable, "-m", "anp_synth"]
ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> None:
    print("$ anp-synth " + " ".join(args), flush=True)
    subprocess.run([*CLI, *args], check=True, env=None if env is None else {**os.environ, **env})


@contextlib.contextmanager
def reference_site(workdir: Path) -> Iterator[SiteProcess]:
    """The reference site in the background on a free port, with a fresh temporary database."""
    with tempfile.TemporaryDirectory(prefix="anp-site-", dir=workdir) as tmp:
        site = SiteProcess(Path(tmp) / "site.db", log_path=workdir / "site.log")
        with site:
            pid = site.pid
            health = httpx.get(f"{site.url}/health", timeout=5).json()
            print(f"site: {site.url} (pid {pid}, {health['posts']} posts, log {site.log_path})")
            yield site
        print(f"site: stopped (pid {pid})")


def load_test_stage(site: SiteProcess, workdir: Path, ledger: Path) -> None:
    """Stage 3: about 20 s of the Locust scenarios against the site; print the table and reports."""
    out = workdir / "loadtest"
    # the site wrote its demo users (random passwords) beside its database: a file, not argv
    accounts = Path(f"{site.db_path}.users.json")
    args = ["loadtest", "--target", site.url, "--ledger", str(ledger), "--out", str(out)]
    args += ["--duration", "20s", "--users", "20", "--spawn-rate", "10", "--think", "0.1,0.5"]
    args += ["--thresholds", str(ROOT / "fixtures" / "loadtest-thresholds.toml")]
    args += ["--save-baseline", str(out / "baseline.json")]
    if accounts.is_file():
        args += ["--accounts", str(accounts)]
    print("$ anp-synth " + " ".join(args), flush=True)
    code = subprocess.run([*CLI, *args]).returncode
    if code not in (0, 3):
        raise SystemExit(f"demo: loadtest failed with exit code {code}")
    if code == 3:
        print("demo: the load test finished with exit 3 (see the breaches above)")
    print(
        f"demo: Locust's HTML report is {out / 'report.html'} (our figures: {out / 'summary.json'})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="out/demo")
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    workdir = Path(args.dir)
    workdir.mkdir(parents=True, exist_ok=True)
    posts = workdir / "posts.jsonl"

    run("generate", "--seed", "2852", "--count", str(args.count), "-o", str(posts), "-q")
    manifest = orjson.loads((workdir / "posts.manifest.json").read_bytes())
    print(
        f"generated {manifest['count']:,} posts, {manifest['bytes']:,} bytes, "
        f"sha256 {manifest['sha256'][:16]}…, faker {manifest['faker_version']}"
    )
    run("show", "2852")
    with reference_site(workdir) as site:
        print(f"site: the import token is in this process only; home page {site.url}/")
        # Stage 2: import (token by environment, never argv), then a rerun that skips all.
        ledger = workdir / "ledger.sqlite"
        for stale in workdir.glob("ledger.sqlite*"):  # the site is fresh: so is the ledger
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        token = {"ANP_TARGET_TOKEN": site.token}
        imp = ("import", str(posts), "--target", site.url, "--ledger", str(ledger))
        run(*imp, env=token)
        run(*imp, env=token)
        run("status", "--ledger", str(ledger))
        load_test_stage(site, workdir, ledger)
    return 0


if __name__ == "__main__":
    sys.exit(main())
