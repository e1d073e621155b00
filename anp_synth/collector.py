"""Python's cyclic garbage collector, paused while a hot loop makes no cyclic garbage.

Building, parsing or importing posts allocates many short-lived dicts and lists that their
reference counts free; left automatic, the collector would run every few hundred allocations
and walk every long-lived table of the process each time. The callers (generate's chunks and
variants, the importer's passes, the site's bulk requests) say why pausing is safe for them.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block; the collector is left as it was found."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
