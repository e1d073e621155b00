"""`make bench`: every benchmark, each printing ratios against a baseline measured in the same run.

`python -m bench NAME …` runs only those; each suite's module loads only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUITES = ("startup", "generate", "site", "importer", "loadtest", "wordpress", "static")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="*", default=list(SUITES), help=", ".join(SUITES))
    args = parser.parse_args()
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        print(
            f"error: unknown benchmark {unknown[0]!r}; choose from {', '.join(SUITES)}",
            file=sys.stderr,
        )
        return 2
    failed = 0
    for name in args.suites:
        failed += importlib.import_module(f"bench.{name}").main()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
