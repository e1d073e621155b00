"""The fixed latencies the synthetic locustfile replays (no locust import: tests read them too)."""

from __future__ import annotations

import random

ROUTES = ("/posts/[slug]", "/", "/tag/[slug]", "/search")
COUNT = 6000


def samples() -> list[tuple[str, float, bool, str]]:
    """COUNT deterministic (route, ms, ok, X-Cache) samples with a long tail."""
    rng = random.Random(15)
    out = []
    for _ in range(COUNT):
        route = rng.choice(ROUTES)
        ms = round(rng.lognormvariate(3.0, 0.6) + (400.0 if rng.random() < 0.01 else 0.0), 3)
        out.append((route, ms, rng.random() > 0.02, rng.choice(("HIT", "MISS"))))
    return out


SAMPLES = samples()
