"""Child processes die with their parent, even when the parent is killed with SIGKILL.

`subprocess.Popen(..., preexec_fn=die_with_parent(signal.SIGTERM))` asks Linux (prctl
PR_SET_PDEATHSIG) to send the child a signal when the thread that started it ends: SIGKILL
for a build, SIGTERM for Locust (which then stops the workers it forked). Elsewhere: a no-op.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A preexec_fn: in the child, before exec, ask for `sig` when the parent dies."""

    def preexec() -> None:
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))

    return preexec
