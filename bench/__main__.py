"""`make bench`: every benchmark, each printing ratios against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import sys

from bench import generate as bench_generate
from bench import importer as bench_importer
from bench import loadtest as bench_loadtest
from bench import site as bench_site
from bench import wordpress as bench_wordpress

SUITES = {
    "generate": bench_generate.main,
    "site": bench_site.main,
    "importer": bench_importer.main,
    "loadtest": bench_loadtest.main,
    "wordpress": bench_wordpress.main,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="*", default=list(SUITES), help=", ".join(SUITES))
    args = parser.parse_args()
    failed = 0
    for name in args.suites:
        if name not in SUITES:
            print(
                f"error: unknown benchmark {name!r}; choose from {', '.join(SUITES)}",
                file=sys.stderr,
            )
            return 2
        failed += SUITES[name]()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
