"""The reference target site: `anp-synth site serve`.

Public API: `create_app` (the FastAPI factory) and `SiteProcess` (start the real
server as a subprocess, for tests, the demo and the load tests). Loaded lazily, so that
`anp_synth.site.terms` (the slug rule, used by the cache keys the importer purges) can be
imported without the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anp_synth.site.app import SiteConfig, create_app
    from anp_synth.site.launcher import SiteProcess

_EXPORTS = {
    "SiteConfig": "anp_synth.site.app",
    "create_app": "anp_synth.site.app",
    "SiteProcess": "anp_synth.site.launcher",
}
__all__ = ["SiteConfig", "SiteProcess", "create_app"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
