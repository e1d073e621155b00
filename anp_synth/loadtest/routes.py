"""The route names the bundled scenarios give their requests: what a thresholds file names.

A `[routes."NAME"]` table no scenario can fill would only fail at the end of the run (a
route that made no requests is a breach); it is refused before the run instead, naming the
file, the route and the routes that exist. A test runs the real scenarios and checks that
every name they produced is listed here. With your own `--locustfile` nothing is checked.
"""

from __future__ import annotations

from collections.abc import Iterable

from anp_synth.errors import InputError
from anp_synth.loadtest.settings import SCENARIOS, Settings
from anp_synth.loadtest.stats import AGGREGATE


def _inspected(*names: str) -> tuple[str, ...]:
    # the inspector requests a page, again (must be a HIT), then conditionally (must be 304)
    return tuple(f"[inspect] {n}{suffix}" for n in names for suffix in ("", " (again)", " (304)"))


BY_SCENARIO: dict[str, tuple[str, ...]] = {
    "reader": ("/posts/[slug]",),
    "browser": (
        "/",
        "/page/[n]",
        "/stack/[slug]",
        "/stack/[slug]/page/[n]",
        "/tag/[slug]",
        "/tag/[slug]/page/[n]",
        "/search",
        "/search?page=[n]",
    ),
    "member": ("/login", "/login (POST)", "[member] /posts/[slug]", "[member] /"),
    "inspector": (
        *_inspected("/posts/[slug]", "/stack/[slug]", "/"),
        "[inspect] /search",
        "[inspect] /posts/[slug]?query",
    ),
}
assert set(BY_SCENARIO) == set(SCENARIOS)
# With --assets, readers name each asset by its folder: "[asset] /media/…", "[asset] /static/…",
# or by its path when it has no folder ("[asset] /favicon.ico").
ASSET_PREFIX = "[asset] /"


def scenario_of(route: str) -> str | None:
    """The scenario that makes `route` ("assets" for an asset), or None: no scenario does."""
    if route.startswith(ASSET_PREFIX):
        return "assets"
    for scenario, names in BY_SCENARIO.items():
        if route in names:
            return scenario
    return None


def _why_off(scenario: str, settings: Settings) -> str | None:
    """Why `scenario` makes no requests in this run, or None when it does."""
    if scenario == "assets":
        on = settings.assets and settings.weight("reader")
        return None if on else "readers fetch no assets here"
    if scenario == "member" and settings.accounts is None:
        return "it needs an accounts file"
    if not settings.weight(scenario):
        return "its weight is 0"
    return None


def check(routes: Iterable[str], settings: Settings, path: str) -> None:
    """Refuse a thresholds route the scenarios of this run can never produce (InputError)."""
    if settings.locustfile is not None:
        return  # your own scenarios: their names are yours
    running = [s for s in SCENARIOS if _why_off(s, settings) is None]
    for route in routes:
        if route == AGGREGATE:
            continue
        scenario = scenario_of(route)
        why = "no scenario makes it" if scenario is None else None
        if scenario is not None and (off := _why_off(scenario, settings)) is not None:
            why = f"it comes from the {scenario} scenario, which does not run here ({off})"
        if why is None:
            continue
        known = [name for s in running for name in BY_SCENARIO[s]]
        if _why_off("assets", settings) is None:
            known.append(ASSET_PREFIX + "…")
        raise InputError(
            path,
            None,
            f'routes."{route}"',
            f"{why}; the routes of this run: {', '.join(dict.fromkeys(known))}",
        )
