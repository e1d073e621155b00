"""The load test's settings: every option, its one default and its one check.

`anp-synth loadtest` builds a `Settings` from its options; the runner writes it
into --out as one JSON document and hands it to Locust as `--anp-settings FILE`;
the locustfile reads it back with `Settings.read`. Plain Locust's `--anp-*`
options fill the same `Settings` (`Settings.from_values`), so both ways share
the defaults and the checks here. Stdlib only: the Locust child imports this.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from anp_synth import accounts, textfile
from anp_synth.errors import InputError, UsageError
from anp_synth.target import is_url, normalise

FORMAT = "anp-synth-loadtest-settings/1"
SCENARIOS = ("reader", "browser", "member", "inspector")  # locustfiles/locustfile.py
DEFAULT_WEIGHTS = {"reader": 6, "browser": 3, "member": 1, "inspector": 1}
SATURATION_PCT = 90.0
# the settings a master sends its workers (the rest are the master's or each worker's own)
SHARED_WITH_WORKERS = (
    "target",
    "arrival_rate",
    "think",
    "weights",
    "similar",
    "hit_tries",
    "page_size",
    "edge",  # the inspector holds an edge to its own verdict
    "assets",  # readers fetch a page's images, stylesheets and scripts
    "locustfile",  # your own locustfile may have other scenarios
)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """Seconds from '90', '90s', '2m', '1m30s' or '1h'."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise UsageError("duration", f"expected e.g. 60s, 2m or 1m30s, got {text!r}")
    h, m, s = match.groups()
    seconds = int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0)
    if seconds <= 0:
        raise UsageError("duration", f"must be more than 0 s, got {text!r}")
    return seconds


@dataclass(frozen=True)
class Think:
    """Seconds a user waits between two tasks (closed model): uniform in [low, high]."""

    low: float = 0.5
    high: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high or not math.isfinite(self.high):
            raise UsageError("think", f"expected MIN,MAX seconds with 0 <= MIN <= MAX, got {self}")

    @classmethod
    def parse(cls, text: str) -> Think:
        """'MIN,MAX' or one value (a constant wait)."""
        parts = text.split(",")
        try:
            values = [float(v) for v in parts]
        except ValueError:
            values = []
        if not 1 <= len(parts) <= 2 or len(values) != len(parts):
            raise UsageError("think", f"expected MIN,MAX seconds (or one value), got {text!r}")
        return cls(values[0], values[-1])

    def __str__(self) -> str:
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g},{self.high:g}"


def parse_weights(text: str) -> dict[str, int]:
    """Scenario weights from 'reader=6,browser=3' (only the scenarios named)."""
    weights: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if not name.strip() or not value.strip().isdigit():
            raise UsageError("weights", f"expected NAME=INT, got {part!r}")
        weights[name.strip()] = int(value)
    return weights


def weights_text(weights: Mapping[str, int]) -> str:
    """The 'reader=6,browser=3,…' form of scenario weights."""
    return ",".join(f"{name}={value}" for name, value in weights.items())


def _number(option: str, kind: Callable[[str], float]) -> Callable[[object], object]:
    def parse(value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return kind(value)
        except ValueError:
            raise UsageError(option, f"expected a number, got {value!r}") from None

    return parse


def _path(option: str) -> Callable[[object], object]:
    def parse(value: object) -> object:
        if isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value:
            raise UsageError(option, f"expected a file path, got {value!r}")
        return Path(value)

    return parse


def _url_target(value: str) -> str:
    # the one spelling every command and the ledger use (anp_synth.target); a site is a URL
    spelled = normalise(value)
    if not is_url(spelled):
        raise UsageError("target", f"expected http(s)://host[:port], got {value!r}")
    return spelled


@dataclass(frozen=True)
class Settings:
    """Everything one load test was asked to do; checked when it is made."""

    target: str | None = None  # the CLI requires it; plain Locust takes --host
    out: Path = Path("out/loadtest")
    ledger: Path | None = None  # the posts come from the ledger …
    manifest: Path | None = None  # … or from a targets manifest
    users: int = 10
    spawn_rate: float = 10.0
    duration: float = 60.0  # seconds
    processes: int = 1
    arrival_rate: float = 0.0  # requests/s in total; 0: closed model (think time)
    think: Think = field(default_factory=Think)
    weights: Mapping[str, int] = field(default_factory=dict)  # the rest: DEFAULT_WEIGHTS
    accounts: Path | None = None
    similar: float = 0.3
    cache_rules: Path | None = None  # None: the rules the manifest states (the site's)
    hit_tries: int = 1
    page_size: int = 20
    thresholds: Path | None = None
    baseline: Path | None = None
    save_baseline: Path | None = None
    min_effect: float | None = None  # None: the thresholds file's, else 0.20
    min_effect_ms: float | None = None  # None: the thresholds file's, else 10
    cpu_limit: float = SATURATION_PCT
    locustfile: Path | None = None  # None: the bundled one
    # across machines (Locust's master/worker): this run is the master of N workers …
    master: bool = False
    expect_workers: int = 1
    # … or one worker of a master at master_host:master_port (the master sends the rest)
    worker: bool = False
    master_host: str | None = None
    master_port: int = 5557
    junit: Path | None = None  # JUnit XML: one testcase per threshold and comparison
    markdown: Path | None = None  # a pull-request comment: verdict, breaches, regressions
    edge: bool = False  # the target is a Varnish edge: hold it to the edge's verdict
    assets: bool = False  # readers fetch each page's assets as a browser with a cache would

    def __post_init__(self) -> None:
        self._check_values()
        self._check_roles()
        for switch in ("edge", "assets"):
            if not isinstance(getattr(self, switch), bool):
                raise UsageError(switch, f"expected true or false, got {getattr(self, switch)!r}")
        if self.target is not None:
            object.__setattr__(self, "target", _url_target(self.target))
        if self.locustfile is None:  # your own locustfile may have other scenarios
            unknown = sorted(set(self.weights) - set(SCENARIOS))
            if unknown:
                raise UsageError(
                    "weights", f"unknown scenario {unknown[0]!r}; expected {', '.join(SCENARIOS)}"
                )
        if not isinstance(self.weights, Mapping):
            raise UsageError("weights", f"expected NAME=INT,…, got {self.weights!r}")
        for name, weight in self.weights.items():
            if not isinstance(weight, int) or weight < 0:
                raise UsageError("weights", f"{name}: expected an integer >= 0, got {weight!r}")
        if self.locustfile is None and not any(self.weight(name) for name in self.scenarios):
            raise UsageError(
                "weights",
                f"every scenario that can run has weight 0 ({weights_text(self.weights)}"
                + ("" if self.accounts else "; member needs accounts")
                + "): nothing would be requested",
            )

    def _check_roles(self) -> None:
        for name in ("master", "worker"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(name, f"expected true or false, got {getattr(self, name)!r}")
        if self.master and self.worker:
            raise UsageError("worker", "a process is the master or a worker, not both")
        if (self.master or self.worker) and self.processes > 1:
            role = "master" if self.master else "worker"
            raise UsageError(
                "processes", f"forks local workers; a {role} works with workers elsewhere"
            )
        if self.worker and not self.master_host:
            raise UsageError("master_host", "a worker needs the master's host name or address")
        if not self.worker and self.master_host:
            raise UsageError("master_host", "only a worker connects to a master")
        if not 1 <= self.master_port <= 65535:
            raise UsageError("master_port", f"expected a TCP port, got {self.master_port!r}")

    def _check_values(self) -> None:
        at_least_one = (
            "users",
            "processes",
            "hit_tries",
            "page_size",
            "expect_workers",
            "master_port",
        )
        for name in at_least_one:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(name, f"must be an integer of at least 1, got {value!r}")
        checks: tuple[tuple[str, Callable[[float], bool], str], ...] = (
            ("spawn_rate", lambda v: v > 0, "more than 0"),
            ("duration", lambda v: v > 0, "more than 0 s"),
            ("arrival_rate", lambda v: v >= 0, ">= 0"),
            ("similar", lambda v: 0 <= v <= 1, "a probability in [0, 1]"),
            ("cpu_limit", lambda v: 0 < v <= 100, "a percentage in (0, 100]"),
            ("min_effect", lambda v: v >= 0, ">= 0"),
            ("min_effect_ms", lambda v: v >= 0, ">= 0"),
        )
        for name, ok, want in checks:
            value = getattr(self, name)
            if value is None and name.startswith("min_effect"):
                continue  # unset: the thresholds file's policy decides
            number = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
            if not number or not ok(value):
                raise UsageError(name, f"must be {want}, got {value!r}")
        if not isinstance(self.think, Think):
            raise UsageError("think", f"expected MIN,MAX seconds, got {self.think!r}")

    @property
    def scenarios(self) -> tuple[str, ...]:
        """The bundled scenarios this run can start: member only with accounts to log in."""
        return tuple(name for name in SCENARIOS if name != "member" or self.accounts is not None)

    def weight(self, scenario: str) -> int:
        """The weight of a scenario: as given, else its default (1 for your own scenarios)."""
        return self.weights.get(scenario, DEFAULT_WEIGHTS.get(scenario, 1))

    @property
    def generators(self) -> int:
        """How many processes generate load: the workers of a master, else --processes."""
        return self.expect_workers if self.master else self.processes

    @property
    def arrival_rate_per_process(self) -> float:
        """The open-model rate each load-generator process paces (its share of the total)."""
        return self.arrival_rate / self.generators

    def for_workers(self) -> dict[str, Any]:
        """What a master sends its workers: the scenario settings, each process's rate."""
        doc = self.document()
        shared = {name: doc[name] for name in SHARED_WITH_WORKERS}
        shared["arrival_rate"] = self.arrival_rate_per_process
        return shared

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> Settings:
        """Settings from option values by field name, as text or typed; None means default."""
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise UsageError(None, f"unknown load-test setting {unknown[0]!r}")
        given: dict[str, Any] = {
            name: _PARSE.get(name, _same)(value)
            for name, value in values.items()
            if value is not None
        }
        return cls(**given)

    def check_files(self) -> None:
        """Refuse missing input files and an unwritable baseline before anything starts."""
        for option in (
            "manifest",
            "accounts",
            "cache_rules",
            "thresholds",
            "baseline",
            "locustfile",
        ):
            path = getattr(self, option)
            if path is not None and not path.is_file():
                raise UsageError(option, f"no file at {path}")
        if self.accounts is not None:
            accounts.read(self.accounts)  # a bad entry: one line here, not a traceback in Locust
        for option in ("save_baseline", "junit", "markdown"):
            # checked before the run, so that a run's figures are not lost at the end
            path = getattr(self, option)
            if path is None:
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(
                    option, f"cannot create {path.parent}: {exc.strerror or exc}"
                ) from None
            if path.is_dir():
                raise UsageError(option, f"{path} is a directory")

    def document(self) -> dict[str, Any]:
        """The JSON document of these settings (paths and figures only: no secrets)."""
        doc: dict[str, Any] = {"format": FORMAT}
        for name, value in asdict(self).items():
            if isinstance(value, Path):
                value = str(value)
            doc[name] = value
        doc["think"] = str(self.think)
        doc["weights"] = weights_text(self.weights)
        return doc

    def write(self, path: Path) -> Path:
        """Write the document to `path` (atomically) and return the path."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.document(), indent=2), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, path: str | Path) -> Settings:
        """Settings from a document `write` wrote; InputError names the file."""
        p = Path(path)
        doc = textfile.read_json(p)
        if not isinstance(doc, dict) or doc.pop("format", None) != FORMAT:
            raise InputError(str(p), None, "format", f"not load-test settings ({FORMAT!r})")
        try:
            return cls.from_values(doc)
        except UsageError as exc:
            raise InputError(str(p), None, exc.option, exc.reason) from None


def _same(value: object) -> object:
    return value


def _flag(option: str) -> Callable[[object], object]:
    """A switch from text (plain Locust's options): 1/true/yes/on or 0/false/no/off."""

    def parse(value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise UsageError(option, f"expected true or false, got {value!r}")

    return parse


# How each field reads from text (plain Locust's options); typed values pass through.
_PARSE: dict[str, Callable[[object], object]] = {
    "target": _same,
    "master_host": _same,
    "master": lambda v: v.lower() in ("1", "true", "yes") if isinstance(v, str) else v,
    "worker": lambda v: v.lower() in ("1", "true", "yes") if isinstance(v, str) else v,
    "duration": lambda v: parse_duration(v) if isinstance(v, str) else v,
    "think": lambda v: Think.parse(v) if isinstance(v, str) else v,
    "weights": lambda v: parse_weights(v) if isinstance(v, str) else v,
    "edge": _flag("edge"),
    "assets": _flag("assets"),
    **{
        name: _number(name, int)
        for name in (
            "users",
            "processes",
            "hit_tries",
            "page_size",
            "expect_workers",
            "master_port",
        )
    },
    **{
        name: _number(name, float)
        for name in (
            "spawn_rate",
            "arrival_rate",
            "similar",
            "min_effect",
            "min_effect_ms",
            "cpu_limit",
        )
    },
    **{
        name: _path(name)
        for name in (
            "out",
            "ledger",
            "manifest",
            "accounts",
            "cache_rules",
            "thresholds",
            "baseline",
            "save_baseline",
            "locustfile",
            "junit",
            "markdown",
        )
    },
}
