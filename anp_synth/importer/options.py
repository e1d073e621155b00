"""How an import runs: the knobs of planning, sending, retrying and the circuit breaker."""

from __future__ import annotations

from dataclasses import dataclass

from anp_synth.importer.ledger import STALE_AFTER


@dataclass(slots=True)
class Options:
    """How an import runs. Defaults are the CLI's defaults."""

    concurrency: int = 4
    batch_size: int = 500
    dry_run: bool = False
    only: frozenset[str] | None = None
    retry_quarantine: bool = False
    max_attempts: int = 8
    max_retry_time: float = 60.0
    wait_initial: float = 0.2
    wait_max: float = 10.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 1.0
    breaker_max_cooldown: float = 15.0
    max_pause: float = 300.0
    stale_after: float = STALE_AFTER
