"""A shim so `locust -f loadtests/locustfile.py` keeps working in a checkout.

The scenarios live in the package (anp_synth/loadtest/locustfiles/) so that a
wheel can run them; this file runs that locustfile in its own namespace.
"""

import sys
from pathlib import Path

_BUNDLED = Path(__file__).resolve().parents[1] / "anp_synth" / "loadtest" / "locustfiles"
sys.path.insert(0, str(_BUNDLED))
_SOURCE = _BUNDLED / "locustfile.py"
exec(compile(_SOURCE.read_text(encoding="utf-8"), str(_SOURCE), "exec"))
