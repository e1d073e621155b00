"""`python -m tests.sinks.static_dies N ARGS…`: `anp-synth ARGS…`, killed (SIGKILL, by itself)
right after the static sink's Nth batch is written: the files are there, the ledger has not
heard of them (the crash between write and ledger confirm)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from anp_synth.sinks.static.files import StaticSink


def main() -> int:
    die_after = int(sys.argv[1])
    written = 0
    upsert_many = StaticSink.upsert_many

    def dying(self: StaticSink, posts: Any, *, idempotency_keys: Any) -> Any:
        nonlocal written
        out = upsert_many(self, posts, idempotency_keys=idempotency_keys)
        written += 1
        if written == die_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    StaticSink.upsert_many = dying  # type: ignore[method-assign]
    from anp_synth.cli import main as cli

    return cli(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
