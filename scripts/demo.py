"""`make demo`: run the whole pipeline on the embedded default, in one directory.

Stage 1 (generate) → stage 2 (serve the reference site, import) → stage 3 (load test).
Each stage is added here as it lands; every process started is stopped by its pid.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import orjson

CLI = [sys.executable, "-m", "anp_synth"]


def run(*args: str) -> None:
    print("$ anp-synth " + " ".join(args), flush=True)
    subprocess.run([*CLI, *args], check=True)


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
