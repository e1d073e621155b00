"""The reference target site: `anp-synth site serve`.

Public API: `create_app` (the FastAPI factory) and `SiteProcess` (start the real
server as a subprocess, for tests, the demo and the load tests).
"""

from anp_synth.site.app import SiteConfig, create_app
from anp_synth.site.launcher import SiteProcess

__all__ = ["SiteConfig", "SiteProcess", "create_app"]
