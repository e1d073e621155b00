"""What the master's sample channel received from each worker (its channel.json).

The locustfiles' `anp_channel` writes the tally; the parent reads it here to
say, in the summary and the terminal, which workers reported and whether any
stopped reporting before the end (a worker that died: its samples up to its
last message are counted, the run is partial).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from anp_synth.errors import InputError

FILE = "channel.json"  # locustfiles/anp_channel.CHANNEL_FILE
FORMAT = "anp-synth-channel/1"
# A stopping master waits at most its stop timeout + this for each live worker's last message.
FINAL_WAIT_S = 10.0


@dataclass(frozen=True)
class WorkerTally:
    """One worker as the master saw it."""

    id: str
    index: int
    messages: int
    samples: int
    sent: int
    gaps: int
    final: bool
    last_message_s: float | None

    @property
    def lost(self) -> bool:
        """True when the worker's last message never came (it died or was cut off)."""
        return not self.final

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "index": self.index,
            "messages": self.messages,
            "samples": self.samples,
            "sent": self.sent,
            "gaps": self.gaps,
            "final": self.final,
            "lost": self.lost,
            "last_message_s": self.last_message_s,
        }

    def describe(self) -> str:
        """One line for a worker that was lost."""
        when = (
            f"its last message {self.last_message_s:g} s into the run"
            if self.last_message_s is not None
            else "it sent no message"
        )
        return (
            f"worker {self.index} ({self.id}) stopped reporting before the end ({when}); "
            f"its {self.samples:,} samples up to then are counted"
        )


def read(directory: Path) -> list[WorkerTally] | None:
    """The workers' tallies, or None when no master wrote one (a single process)."""
    path = directory / FILE
    if not path.is_file():
        return None
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(str(path), None, None, f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(str(path), None, "format", f"not a sample-channel tally ({FORMAT!r})")
    try:
        return [
            WorkerTally(
                id=str(w["id"]),
                index=int(w["index"]),
                messages=int(w["messages"]),
                samples=int(w["samples"]),
                sent=int(w["sent"]),
                gaps=int(w["gaps"]),
                final=bool(w["final"]),
                last_message_s=w["last_message_s"],
            )
            for w in doc["workers"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(str(path), None, "workers", f"unexpected entry: {exc}") from None
