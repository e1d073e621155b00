"""Benchmark how fast `anp-synth` starts, against `python -c "import typer, rich"`.

Goals (issue 9), each a ratio of whole-process wall times measured in the same run
(median of 5, the commands taking turns so a noisy neighbour hits all of them alike):
  1. `anp-synth --help` <= 1.5x the baseline;
  2. `anp-synth --version` <= 1.5x the baseline;
  3. `anp-synth generate --count 1 -o FILE` <= 3x the baseline.
The baseline is the least a typer CLI can cost: the interpreter plus typer and rich.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
GOAL_HELP = 1.5
GOAL_GENERATE = 3.0


def _wall(cmd: list[str], cwd: str) -> float:
    """Seconds from start to exit of `cmd`; a failing command fails the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=60, check=False)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-500:]!r}")
    return seconds


def verdict(name: str, value: float, goal: float) -> bool:
    """Print one goal with its PASS/MISS."""
    ok = value <= goal
    print(f"  {'PASS' if ok else 'MISS'}  {name}: {value:.2f}x (goal <= {goal:g}x)")
    return ok


def main() -> int:
    """Run the startup benchmark; non-zero only if something errored."""
    try:
        return _main()
    except Exception as exc:  # a benchmark that crashes must say so, not pass quietly
        print(f"startup bench: error: {exc!r}", file=sys.stderr)
        return 1


def _main() -> int:
    cli = str(Path(sys.executable).with_name("anp-synth"))
    with tempfile.TemporaryDirectory(prefix="anp-bench-startup-") as tmp:
        commands = {
            'python -c "import typer, rich"': [sys.executable, "-c", "import typer, rich"],
            "anp-synth --help": [cli, "--help"],
            "anp-synth --version": [cli, "--version"],
            "anp-synth generate --count 1": [cli, "generate", "--count", "1", "-o", "one.jsonl"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for cmd in commands.values():  # warm up: the page cache, .pyc files
            _wall(cmd, tmp)
        for _ in range(RUNS):
            for name, cmd in commands.items():
                times[name].append(_wall(cmd, tmp))
    median = {name: statistics.median(values) for name, values in times.items()}
    base_name = next(iter(commands))
    base = median[base_name]
    print(f"startup: whole-process wall time, median of {RUNS} runs each")
    for name, seconds in median.items():
        ratio = "" if name == base_name else f"  {seconds / base:.2f}x the baseline"
        print(f"  {name:<32} {seconds * 1000:7.0f} ms{ratio}")
    verdict("--help / baseline", median["anp-synth --help"] / base, GOAL_HELP)
    verdict("--version / baseline", median["anp-synth --version"] / base, GOAL_HELP)
    verdict(
        "generate --count 1 / baseline",
        median["anp-synth generate --count 1"] / base,
        GOAL_GENERATE,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
