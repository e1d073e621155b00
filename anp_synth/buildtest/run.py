"""The build test: for each volume, import the posts (adding to the earlier ones) through the
importer, then time cold, warm and incremental builds, each `repeat` times. With `vary`, the
volume is one and each value of one profile knob is a step instead (the posts rewritten in
place: the same source ids with that knob changed)."""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from anp_synth.buildtest.fit import PowerLaw, Spread, fit_power_law
from anp_synth.buildtest.measure import Measurement, run_build, sigterm_as_interrupt
from anp_synth.buildtest.vary import Vary
from anp_synth.buildtest.verdict import KINDS
from anp_synth.errors import PartialFailure, UsageError

GENERATORS = ("hugo", "jekyll", "eleventy")
# What a cold build removes first: the generator's output and its caches in the site.
CLEAN: dict[str, tuple[str, ...]] = {
    "hugo": ("public", "resources", ".hugo_build.lock"),
    "jekyll": ("_site", ".jekyll-cache", ".jekyll-metadata", ".sass-cache"),
    "eleventy": ("_site", ".cache"),
}
FORMAT = "anp-synth-buildtest/1"


@dataclass(frozen=True)
class Settings:
    """One build test, as the CLI (or a caller) describes it."""

    sink: str
    target: Path
    build: list[str]
    counts: list[int]
    repeat: int = 3
    profile: str = "standard"
    seed: int = 0
    out: Path = Path("buildtest")
    ledger: Path | None = None  # default: OUT/ledger.sqlite
    timeout: float = 3600.0
    vary: Vary | None = None  # one knob's values at the one volume of `counts`

    @property
    def axis(self) -> str:
        """What the x axis counts: posts, or the varied knob."""
        return self.vary.knob if self.vary is not None else "posts"

    @property
    def steps(self) -> list[int]:
        """The x axis's values: the volumes, or the knob's values."""
        return self.vary.values if self.vary is not None else self.counts


@dataclass(frozen=True, slots=True)
class Row:
    """One build kind at one volume: every repeated build and their spread."""

    kind: str
    posts: int
    builds: list[Measurement]
    value: int | None = None  # the varied knob's value (--vary), else None
    knob: str | None = None  # the varied knob's name (--vary)

    @property
    def x(self) -> int:
        """Where the row sits on the x axis: its knob's value, else its posts."""
        return self.posts if self.value is None else self.value

    @property
    def label(self) -> str:
        """`cold@5000`, or `cold@tags=100` for a varied knob (baselines, limits)."""
        return f"{self.kind}@{self.posts}" if self.value is None else f"{self.kind}@{self.at}"

    @property
    def at(self) -> str:
        """The step as the table says it: `5,000`, or `tags=100`."""
        axis = self.knob or "posts"
        return f"{self.posts:,}" if self.value is None else f"{axis}={self.value}"

    @property
    def wall(self) -> Spread:
        return Spread.of([b.wall_s for b in self.builds])

    @property
    def cpu(self) -> Spread:
        return Spread.of([b.cpu_s for b in self.builds])

    @property
    def rss(self) -> Spread:
        return Spread.of([b.peak_rss_mb for b in self.builds])


@dataclass
class Result:
    """What a build test measured, and what anp-synth itself spent (generate, import)."""

    settings: Settings
    rows: list[Row] = field(default_factory=list)
    total_s: float = 0.0
    own_s: float = 0.0  # generating and importing posts, cleaning: everything but the builds
    imported: dict[int, dict[str, int]] = field(default_factory=dict)

    def fits(self) -> dict[str, PowerLaw | None]:
        """The power-law fit of each build kind's median wall time against posts (or the knob)."""
        out: dict[str, PowerLaw | None] = {}
        for kind in KINDS:
            rows = [r for r in self.rows if r.kind == kind]
            out[kind] = fit_power_law([r.x for r in rows], [r.wall.median for r in rows])
        return out

    @property
    def own_share(self) -> float:
        """anp-synth's share of the build test's wall time."""
        return self.own_s / self.total_s if self.total_s > 0 else 0.0

    def samples_ms(self) -> dict[str, list[float]]:
        """Each KIND@POSTS's (KIND@KNOB=V's) wall times in milliseconds (a baseline keeps them)."""
        return {r.label: [b.wall_s * 1000 for b in r.builds] for r in self.rows}

    def as_dict(self) -> dict[str, Any]:
        """buildtest.json."""
        s = self.settings
        largest = max(s.counts)
        return {
            "format": FORMAT,
            "sink": s.sink,
            "target": str(s.target),
            "build": s.build,
            "counts": s.counts,
            "vary": None if s.vary is None else {"knob": s.vary.knob, "values": s.vary.values},
            "repeat": s.repeat,
            "profile": s.profile,
            "seed": s.seed,
            "total_s": round(self.total_s, 3),
            "anp_synth_s": round(self.own_s, 3),
            "anp_synth_share": round(self.own_share, 4),
            "imported": {str(k): v for k, v in self.imported.items()},
            "rows": [
                {
                    "kind": r.kind,
                    "posts": r.posts,
                    **({} if r.value is None else {r.knob or "value": r.value}),
                    "wall_s": _spread(r.wall),
                    "cpu_s": _spread(r.cpu),
                    "peak_rss_mb": _spread(r.rss),
                    "builds": [
                        {
                            "wall_s": round(b.wall_s, 4),
                            "cpu_s": round(b.cpu_s, 4),
                            "peak_rss_mb": round(b.peak_rss_mb, 1),
                        }
                        for b in r.builds
                    ],  # fmt: skip
                }
                for r in self.rows
            ],
            "fit": {
                kind: None
                if f is None
                else {
                    "exponent": round(f.exponent, 4),
                    "a": f.a,
                    "r2": round(f.r2, 4),
                    "seconds_per_1000_posts": None
                    if s.vary is not None
                    else round(f.per_1000(largest), 4),
                }
                for kind, f in self.fits().items()
            },
        }


def _spread(s: Spread) -> dict[str, float]:
    return {"min": round(s.min, 4), "median": round(s.median, 4), "max": round(s.max, 4)}


def parse_counts(text: str) -> list[int]:
    """`1000,5000,20000` → [1000, 5000, 20000]: positive and strictly increasing."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError("counts", f"{text!r}: expected numbers of posts like 1000,5000") from None
    if not counts or any(n < 1 for n in counts):
        raise UsageError("counts", f"{text!r}: expected positive numbers of posts")
    if any(b <= a for a, b in zip(counts, counts[1:], strict=False)):
        raise UsageError("counts", f"{text!r}: each volume must be larger than the one before")
    return counts


def check(settings: Settings) -> None:
    """Refuse what cannot run: an unknown sink, a target that is not its site, bad counts."""
    from anp_synth.sinks.registry import SINKS

    if settings.sink not in GENERATORS:
        raise UsageError("sink", f"{settings.sink!r}: buildtest takes {', '.join(GENERATORS)}")
    module_name, _, class_name = SINKS[settings.sink].partition(":")
    markers: tuple[str, ...] = getattr(
        importlib.import_module(module_name), class_name
    ).site_markers
    root = settings.target
    if not root.is_dir() or not any((root / m).exists() for m in markers):
        raise UsageError(
            "target",
            f"{root}: not a {settings.sink} site (no {' or '.join(markers)}); "
            f"`anp-synth site init {settings.sink} DIR` lays one out",
        )
    if settings.repeat < 1:
        raise UsageError("repeat", f"expected >= 1, got {settings.repeat}")
    if settings.vary is not None and len(settings.counts) != 1:
        raise UsageError("counts", "with --vary, one volume of posts (e.g. --counts 5000)")
    if settings.seed < 0 or settings.seed + max(settings.counts) > 1_000_000:
        raise UsageError(
            "seed",
            f"seeds {settings.seed}..{settings.seed + max(settings.counts) - 1} pass 999,999",
        )


def _clean(settings: Settings) -> None:
    for name in CLEAN[settings.sink]:
        path = settings.target / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run(settings: Settings, *, say: Callable[[str], None] = lambda line: None) -> Result:
    """Import each volume and measure its builds; raises on a failed build or import."""
    from anp_synth.generate.dataset import Spec, generate
    from anp_synth.importer import Importer, Options
    from anp_synth.importer.ledger import Ledger
    from anp_synth.sinks.registry import create_sink

    check(settings)
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    result = Result(settings)
    t_start = time.perf_counter()
    in_builds = 0.0
    sink = create_sink(settings.sink, str(settings.target))
    target = str(settings.target.resolve())

    def import_file(path: Path) -> dict[str, int]:
        with path.open("rb") as fh:
            summary = Importer(sink, led, target, Options()).run(fh, str(path))
        if not summary.ok:
            raise PartialFailure(
                f"import of {path}: {summary.quarantined} quarantined, {summary.failed} failed "
                f"(see {summary.quarantine_path})"
            )
        return {
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
        }

    def build(kind: str, at: str, into: list[Measurement]) -> None:
        nonlocal in_builds
        m = run_build(settings.build, settings.target, timeout=settings.timeout)
        in_builds += m.wall_s
        into.append(m)
        say(
            f"{kind:<11} {at:>14}  {m.wall_s:8.2f} s wall  {m.cpu_s:8.2f} s cpu  {m.peak_rss_mb:8.0f} MB"
        )

    with sigterm_as_interrupt(), Ledger(settings.ledger or out / "ledger.sqlite") as led:
        done = 0
        vary = settings.vary
        for step in settings.steps:
            if vary is None:  # a volume: the posts it adds to the earlier ones
                n, value, knob = step, None, None
                path = out / f"posts-{done + 1}-{n}.jsonl"
                generate(Spec(settings.seed + done, n - done, settings.profile), str(path))
                done = n
            else:  # a knob's value: the same posts, made again with it (each file rewritten)
                n, value, knob = settings.counts[0], step, vary.knob
                path = out / f"posts-{vary.knob}-{step}.jsonl"
                profile = vary.profile(settings.profile, step)
                generate(Spec(settings.seed, n, profile), str(path))
            result.imported[step] = import_file(path)
            last = orjson.loads(path.read_bytes().splitlines()[-1])
            at = Row("", n, [], value, knob).at
            builds: dict[str, list[Measurement]] = {k: [] for k in KINDS}
            for r in range(settings.repeat):
                _clean(settings)
                build("cold", at, builds["cold"])
                build("warm", at, builds["warm"])
                last["title"] = f"{last['title'].split(' · edit ')[0]} · edit {step}.{r + 1}"
                edit = out / "edit.jsonl"
                edit.write_bytes(orjson.dumps(last) + b"\n")
                changed = import_file(edit)
                if changed["updated"] != 1:
                    raise UsageError(None, f"the edited post was not rewritten ({changed})")
                build("incremental", at, builds["incremental"])
            result.rows.extend(Row(k, n, builds[k], value, knob) for k in KINDS)
    result.total_s = time.perf_counter() - t_start
    result.own_s = result.total_s - in_builds
    return result
