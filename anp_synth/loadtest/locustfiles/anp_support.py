"""Shared machinery of the anp-synth locustfiles: settings, data, checks, pacing, samples.

Imported by the locustfiles only (it imports locust, which monkey-patches the
process with gevent). The run's options are one `Settings`
(anp_synth.loadtest.settings), read from the --anp-settings file that
`anp-synth loadtest` writes, or filled from plain Locust's --anp-* options.
Everything per-request here is kept cheap: the bench checks that our scenarios
reach >= 90 % of a bare FastHttpUser's requests/s.
"""

from __future__ import annotations

import bisect
import html
import json
import os
import random
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from locust import FastHttpUser, between, constant, events

from anp_synth import accounts
from anp_synth.errors import UsageError
from anp_synth.loadtest import cache_rules
from anp_synth.loadtest.cache_rules import CacheRule
from anp_synth.loadtest.locustfiles import anp_channel, anp_progress
from anp_synth.loadtest.settings import Settings, Think

# The site's cache header: `X-Cache: HIT|MISS|BYPASS; rule=NAME`.
XCACHE = re.compile(r"^(HIT|MISS|BYPASS);\s*rule=([\w.:-]+)$")
_CODE = {"HIT": "H", "MISS": "M", "BYPASS": "B"}
_MAX_AGE = re.compile(r"(?:s-maxage|max-age)=(\d+)")
_SIMILAR_LINK = re.compile(r'href="(/posts/[^"#?]+)"')
LATE_TOLERANCE_S = 0.010  # a request sent more than 10 ms after its slot was "not on time"


# ---------------------------------------------------------------- options

# The Settings fields plain Locust sets with --anp-* options (each also an ANP_LOADTEST_*
# variable); `anp-synth loadtest` sends the whole Settings as one --anp-settings file.
OPTIONS: dict[str, tuple[str, str]] = {
    "manifest": (
        "--anp-data",
        "Targets manifest (anp-synth export-targets): post URLs, view counts, terms.",
    ),
    "out": (
        "--anp-out",
        "Directory for samples-<pid>.tsv (every response time); none: not recorded.",
    ),
    "weights": (
        "--anp-weights",
        "Scenario weights, e.g. reader=6,browser=3,member=1,inspector=1 (0 disables).",
    ),
    "accounts": (
        "--anp-accounts",
        'Login users JSON {"users": [{"username", "password", …}]}; none: no members.',
    ),
    "arrival_rate": (
        "--anp-arrival-rate",
        "Open model: requests/s of THIS process, latency from the intended send time.",
    ),
    "think": (
        "--anp-think",
        "Closed model: seconds between a user's tasks, 'MIN,MAX' or one value.",
    ),
    "similar": (
        "--anp-similar",
        "Probability that a reader then opens one of the post's similar posts.",
    ),
    "cache_rules": (
        "--anp-cache-rules",
        'The target\'s cache rules, JSON [{"pattern", "rule", "cached"}]; default: the manifest\'s.',
    ),
    "hit_tries": (
        "--anp-hit-tries",
        "Requests the inspector allows before a page must be a HIT (site workers each cache).",
    ),
    "page_size": (
        "--anp-page-size",
        "Posts per listing page on the target, when the manifest does not say.",
    ),
    "assets": (
        "--anp-assets",
        "1: readers fetch each page's images, stylesheets and scripts, with a browser's cache.",
    ),
    "edge": (
        "--anp-edge",
        "1: the target is a Varnish edge; hold it to the edge's verdict (X-Varnish, Age).",
    ),
}


def _env_var(flag: str) -> str:
    return "ANP_LOADTEST_" + flag.removeprefix("--anp-").replace("-", "_").upper()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--anp-settings",
        env_var="ANP_LOADTEST_SETTINGS",
        default=None,
        help="Load-test settings file written by anp-synth loadtest (instead of --anp-* options).",
    )
    for name, (flag, help_text) in OPTIONS.items():
        # default None: a missing option takes the Settings default (one set of defaults)
        parser.add_argument(
            flag, env_var=_env_var(flag), dest=f"anp_{name}", default=None, help=help_text
        )


def read_settings(opts: Any, host: str | None) -> Settings:
    """The run's Settings: the --anp-settings file, or the --anp-* options over the defaults."""
    given = {name: getattr(opts, f"anp_{name}", None) for name in OPTIONS}
    try:
        if opts.anp_settings:
            extra = [OPTIONS[name][0] for name, value in given.items() if value is not None]
            if extra:
                raise SystemExit(
                    f"error: --anp-settings: given with {extra[0]}; use one or the other"
                )
            return Settings.read(opts.anp_settings)
        return Settings.from_values({**given, "target": host})
    except UsageError as exc:
        if exc.option in OPTIONS:
            raise SystemExit(f"error: {OPTIONS[exc.option][0]}: {exc.reason}") from None
        if exc.option == "target":
            raise SystemExit(f"error: --host: {exc.reason}") from None
        raise SystemExit(f"error: --anp-settings: {exc}") from None


# ---------------------------------------------------------------- data


class Listing(NamedTuple):
    """A stack or tag listing: its slug and how many pages it has."""

    slug: str
    pages: int


class Data:
    """The manifest, prepared for cheap picks (cumulative weights, listings)."""

    def __init__(self, doc: dict[str, Any], page_size: int, similar: float) -> None:
        # "anp" (the reference site's URL layout), "wordpress" (its listings, search, login)
        # or "static" (a built static site: listings at the paths it links, no search, no login)
        self.site: str = doc.get("site") or cache_rules.ANP
        self.searchable = self.site != cache_rules.STATIC
        self.logins = self.site != cache_rules.STATIC
        page_size = int(doc.get("page_size") or page_size)  # the manifest knows the target's
        self.posts: list[dict[str, Any]] = doc["posts"]
        self.urls = [p["url"] for p in self.posts]
        cum, total = [], 0
        for p in self.posts:
            # +1: a post with 0 views can still be read, just rarely
            total += int(p.get("view_count") or 0) + 1
            cum.append(total)
        self.cum, self.total = cum, total
        self.page_size = max(page_size, 1)
        self.stacks = [Listing(s["slug"], self._pages(s["count"])) for s in doc.get("stacks", [])]
        self.tags = [Listing(t["slug"], self._pages(t["count"])) for t in doc.get("tags", [])]
        self.paths = {
            (kind, e["slug"]): e["path"]
            for kind, key in (("stack", "stacks"), ("tag", "tags"))
            for e in doc.get(key, [])
            if e.get("path")
        }
        self.home_pages = self._pages(len(self.posts))
        self.terms: list[str] = doc.get("search_terms") or ["notes"]
        # WordPress answers 404 past the last page of results: page 2 only for terms that more
        # than a page of titles hold (its search also matches bodies, so page 2 exists).
        self.deep_terms = self.terms
        if self.site == "wordpress":
            titles = [str(p.get("title", "")).lower() for p in self.posts]
            self.deep_terms = [
                t for t in self.terms if sum(t in title for title in titles) > self.page_size
            ]
        self.similar = similar
        self.by_stack: dict[str, list[str]] = {}
        for p in self.posts:
            for stack in p.get("stacks") or [""]:
                self.by_stack.setdefault(stack, []).append(p["url"])

    def _pages(self, count: int) -> int:
        return max(1, -(-int(count) // self.page_size))

    def home_page(self, page: int) -> str:
        """Page `page` (>= 2) of the home listing."""
        return f"/page/{page}" if self.site == cache_rules.ANP else f"/page/{page}/"

    def listing(self, kind: str, slug: str, page: int = 1) -> str:
        """A stack (WordPress, static: category) or tag listing, page `page`."""
        if self.site != cache_rules.ANP:  # the path the manifest took from the site
            base = self.paths.get((kind, slug)) or (
                f"/category/{slug}/" if kind == "stack" else f"/tag/{slug}/"
            )
            return base if page == 1 else f"{base.rstrip('/')}/page/{page}/"
        return f"/{kind}/{slug}" if page == 1 else f"/{kind}/{slug}/page/{page}"

    def search(self, term: str, page: int = 1) -> str:
        """The search results for an URL-quoted `term`, page `page`."""
        if self.site == "wordpress":
            return f"/?s={term}" if page == 1 else f"/page/{page}/?s={term}"
        return f"/search?q={term}" if page == 1 else f"/search?q={term}&page={page}"

    def pick_post(self) -> dict[str, Any]:
        """A post chosen with probability proportional to its view count."""
        return self.posts[bisect.bisect_right(self.cum, random.random() * self.total)]

    def same_stack(self, post: dict[str, Any]) -> str:
        """Another post of the same stack (the fallback when a page lists no similar posts)."""
        stacks = post.get("stacks") or [""]
        return random.choice(self.by_stack.get(stacks[0]) or self.urls)


DATA: Data | None = None
RULES: list[CacheRule] = []
HIT_TRIES = 1
EDGE = False  # --edge: the target is a Varnish edge (edge_problem)
ASSETS = False  # --assets: readers fetch each page's assets (AnpUser.fetch_assets)
# What a page links to that a browser fetches: images, stylesheets, scripts, the icon.
_ASSET = re.compile(
    r'<(?:img|script)\b[^>]*\bsrc="(/[^"/][^"]*)"'
    r'|<link\b[^>]*\brel="(?:stylesheet|icon)"[^>]*\bhref="(/[^"/][^"]*)"'
)
_ASSET_ROUTE = re.compile(r"^(/[^/]+/)[^?]*")
ACCOUNTS: list[dict[str, str]] = []
PACER: Pacer | None = None


def _wait(think: Think) -> Any:
    return constant(think.low) if think.low == think.high else between(think.low, think.high)


def setup(environment: Any, classes: dict[str, type[FastHttpUser]]) -> Settings | None:
    """Read the Settings, load the data, apply weights and think time (the locustfile's init).

    A Locust worker given no data of its own takes the scenario settings, the
    manifest and the cache rules from its master (anp_channel.SETUP) and sends
    its samples to the master; a master writes its workers' samples; a single
    process writes its own.
    """
    opts = environment.parsed_options
    if opts is None:  # run as a library, no command line
        return None
    settings = read_settings(opts, environment.host)
    unknown = sorted(set(settings.weights) - set(classes))
    if unknown:
        raise SystemExit(f"error: --anp-weights: unknown scenario {unknown[0]!r}")
    runner = environment.runner
    own_data = settings.manifest is not None
    recording = bool(opts.anp_settings or opts.anp_out)  # plain Locust: only when asked to
    if anp_channel.is_worker(runner):
        channel = anp_channel.WorkerChannel(
            runner, lambda doc: None if own_data else _setup_from_master(settings, doc, classes)
        )
        channel.directory = str(settings.out) if recording else ""
        RECORDER.send = channel.send
        RECORDER.limit = anp_channel.MAX_LINES
        anp_channel.start_ticker(RECORDER.flush)
        if not own_data:
            return settings  # the rest arrives with the master's SETUP, before any user starts
    if settings.manifest is None:
        raise SystemExit("error: --anp-data (or ANP_LOADTEST_DATA): a targets manifest is required")
    with open(settings.manifest, "rb") as fh:
        doc = json.load(fh)
    if settings.cache_rules is not None:
        rules = cache_rules.read(settings.cache_rules)
    else:
        rules = cache_rules.parse(doc.get("cache_rules", []), str(settings.manifest))
    _apply(settings, doc, rules, classes)
    if opts.anp_settings and not anp_channel.is_worker(runner):
        anp_progress.start(environment, str(settings.out))  # `anp-synth loadtest` shows it
    if anp_channel.is_master(runner):
        shared = {
            "settings": settings.for_workers(),
            "manifest": doc,
            "cache_rules": [rule.as_json() for rule in rules],
        }
        anp_channel.MasterChannel(environment, str(settings.out) if recording else "", shared)
    elif not anp_channel.is_worker(runner) and recording:
        RECORDER.directory = str(settings.out)
    return settings


def _setup_from_master(
    own: Settings, shared: dict[str, Any], classes: dict[str, type[FastHttpUser]]
) -> None:
    """A worker's setup from its master's SETUP message (its own accounts file, if any)."""
    try:
        settings = Settings.from_values({**shared["settings"], "accounts": own.accounts})
        rules = cache_rules.parse(shared["cache_rules"], "the master's cache rules")
    except Exception as exc:  # noqa: BLE001 - a bad message must not kill the worker silently
        raise SystemExit(f"error: the master's settings: {exc}") from None
    _apply(settings, shared["manifest"], rules, classes)


def _apply(
    settings: Settings,
    doc: dict[str, Any],
    rules: list[CacheRule],
    classes: dict[str, type[FastHttpUser]],
) -> None:
    global DATA, PACER, HIT_TRIES, EDGE, ASSETS
    DATA = Data(doc, settings.page_size, settings.similar)
    ACCOUNTS.clear()
    if settings.accounts is not None:
        ACCOUNTS.extend(a.as_dict() for a in accounts.read(settings.accounts))
    wait = constant(0) if settings.arrival_rate > 0 else _wait(settings.think)
    for name, cls in classes.items():
        cls.weight = settings.weight(name)
        cls.wait_time = wait
    if (not ACCOUNTS or not DATA.logins) and "member" in classes:
        classes["member"].weight = 0  # nobody to log in as, or nowhere to log in
    PACER = Pacer(settings.arrival_rate_per_process) if settings.arrival_rate > 0 else None
    RULES[:] = rules
    HIT_TRIES = settings.hit_tries
    EDGE = settings.edge
    ASSETS = settings.assets


# ---------------------------------------------------------------- open model


class Pacer:
    """Hands out send slots at a constant rate, as wrk2 does (one schedule per process).

    A user takes the next slot and waits for it; when every user was busy the slot
    is already past and the request goes out at once, late. Latency is then
    measured from the slot (the intended send time), which corrects coordinated
    omission, and a request sent more than LATE_TOLERANCE_S after its slot is
    counted as not sent on time.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next: float | None = None

    def slot(self) -> float:
        """The intended send time of the caller's next request (sleeps until it)."""
        now = time.time()
        if self.next is None:
            self.next = now
        intended = self.next
        self.next += self.interval
        if intended > now:
            time.sleep(intended - now)  # gevent-patched: yields to other users
        return intended


# ---------------------------------------------------------------- samples


class Recorder:
    """Buffers every request as one TSV line: appended to samples-<pid>.tsv, or sent.

    A single process appends to its own file in --out; a worker hands its lines to
    the sample channel (`send`), which takes them to the master.
    """

    FLUSH_EVERY = 20000

    def __init__(self) -> None:
        self.directory = ""
        self.send: Callable[[list[str], bool], None] | None = None
        self.limit = self.FLUSH_EVERY
        self.lines: list[str] = []

    def on_request(
        self,
        name: str,
        response_time: float,
        response: Any,
        context: dict[str, Any],
        exception: Any,
        start_time: float,
        **_: Any,
    ) -> None:
        if not self.directory and self.send is None:
            return
        cache = "-"
        headers = getattr(response, "headers", None)
        if headers:
            value = headers.get("X-Cache")
            if value:
                cache = _CODE.get(value.partition(";")[0], "-")
        intended = context.get("intended") if context else None
        if intended is not None:
            delay = start_time - intended
            corrected = f"{delay * 1000.0 + response_time:.3f}"
            late = "1" if delay > LATE_TOLERANCE_S else "0"
        else:
            corrected, late = "", "0"
        self.lines.append(
            f"{name}\t{start_time:.6f}\t{response_time:.3f}\t{corrected}\t"
            f"{'0' if exception else '1'}\t{cache}\t{late}\n"
        )
        if len(self.lines) >= self.limit:
            self.flush()

    def flush(self, final: bool = False) -> None:
        """Hand the buffered lines on: to the channel, or appended to this process's file."""
        if self.send is not None:
            lines, self.lines = self.lines, []
            self.send(lines, final)
            return
        if not self.directory or not self.lines:
            return
        path = os.path.join(self.directory, f"samples-{os.getpid()}.tsv")
        with open(path, "a", encoding="utf-8") as fh:
            fh.writelines(self.lines)
        self.lines.clear()

    def last(self, **_: Any) -> None:
        """The test stopped: the last lines (a worker says they are the last)."""
        self.flush(final=True)


RECORDER = Recorder()
events.request.add_listener(RECORDER.on_request)
events.test_stop.add_listener(RECORDER.last)
events.quitting.add_listener(RECORDER.last)


# ---------------------------------------------------------------- checks


# The headers an edge keeps for itself: a client must never see the cache keys.
_KEY_HEADERS = ("xkey", "Surrogate-Key", "Cache-Tag")


def edge_problem(resp: Any) -> str | None:
    """What is wrong with an answer from a Varnish edge (--edge), beyond the site's rules.

    The edge's own verdict must be the one in X-Cache: Varnish's X-Varnish holds two
    transaction ids on a hit and one otherwise, so an X-Cache that disagrees with it was
    stored and replayed (the origin's, or another proxy's). Every answer carries Age, and
    no cache key reaches the client.
    """
    via = resp.headers.get("X-Varnish")
    if not via:
        return "no X-Varnish header: the target is not a Varnish edge (--edge)"
    if resp.headers.get("Age") is None:
        return "the edge's answer has no Age header"
    for name in _KEY_HEADERS:
        if resp.headers.get(name):
            return f"the edge let the cache keys reach the client ({name})"
    verdict = (resp.headers.get("X-Cache") or "").partition(";")[0]
    edge_hit = len(via.split()) == 2
    if verdict == "HIT" and not edge_hit:
        return f"X-Cache says HIT but X-Varnish {via!r} is not a hit: a replayed verdict"
    if verdict != "HIT" and edge_hit:
        return f"X-Varnish {via!r} is a hit but X-Cache says {verdict or 'nothing'}"
    return None


def static_problem(resp: Any, path: str) -> str | None:
    """What is wrong with a static site's answer: it has no bypass rules (cache_rules.STATIC),
    so every page, with a query string or not, may be kept by caches and revalidated."""
    rule = cache_rules.rule_for(RULES, path) if path else None
    if rule is not None and not rule.cached:
        return None  # your own --cache-rules say this path is not kept: nothing to hold it to
    cc = (resp.headers.get("Cache-Control") or "").lower()
    if "private" in cc or "no-store" in cc:
        return f"a static page says Cache-Control {cc!r}: a static site has no bypass rules"
    if not resp.headers.get("ETag") and not resp.headers.get("Last-Modified"):
        return "a static page has no ETag or Last-Modified: it cannot be revalidated (304)"
    return None


def cache_problem(resp: Any, *, logged_in: bool, path: str = "") -> str | None:
    """What is wrong with a response's cache headers, by the site's rules (None: nothing)."""
    if EDGE:
        problem = edge_problem(resp)
        if problem is not None:
            return problem
    value = resp.headers.get("X-Cache")
    if not value and DATA is not None and DATA.site == cache_rules.STATIC:
        return static_problem(resp, path)
    if not value and DATA is not None and DATA.site == cache_rules.WORDPRESS:
        # Core WordPress has no page cache and names no rules: nothing to hold it to, except
        # that a logged-in page must not be kept by shared caches.
        cc = (resp.headers.get("Cache-Control") or "").lower()
        if logged_in and not any(d in cc for d in ("private", "no-store", "no-cache")):
            return f"logged-in response has Cache-Control {cc!r} that lets caches keep it"
        return None
    if not value:
        return "no X-Cache header"
    match = XCACHE.match(value)
    if not match:
        return f"X-Cache {value!r} is not 'HIT|MISS|BYPASS; rule=NAME'"
    outcome, rule = match.groups()
    cc = (resp.headers.get("Cache-Control") or "").lower()
    expected = cache_rules.rule_for(RULES, path) if path else None
    if expected is not None:
        want_rule, cached = expected.rule, expected.cached
        if rule != want_rule:
            return f"{path}: rule {rule}, the site's rules say {want_rule}"
        if not cached and outcome != "BYPASS":
            return f"rule {rule} is never cached, but X-Cache says {outcome}"
        if cached and not logged_in and "?" not in path and outcome == "BYPASS":
            return f"rule {rule}: an anonymous GET without a query string was not cached"
        if cached and not logged_in and "?" in path and outcome != "BYPASS":
            return f"rule {rule}: a query string must bypass the cache, X-Cache says {outcome}"
    if logged_in:
        if outcome != "BYPASS":
            return f"logged-in response came from the shared cache ({value})"
        if "private" not in cc and "no-store" not in cc:
            return f"logged-in response has Cache-Control {cc!r}, not private/no-store"
        return None
    if outcome in ("HIT", "MISS"):
        if "private" in cc or "no-store" in cc:
            return f"rule {rule}: cached page says Cache-Control {cc!r}"
        ages = _MAX_AGE.findall(cc)
        if not ages or not any(int(a) > 0 for a in ages):
            return f"rule {rule}: cached page has no positive max-age ({cc!r})"
        if not resp.headers.get("ETag"):
            return f"rule {rule}: cached page has no ETag"
    elif "no-store" not in cc and "private" not in cc and "no-cache" not in cc:
        return f"rule {rule}: bypassed page has Cache-Control {cc!r} that lets caches keep it"
    return None


class AnpUser(FastHttpUser):
    """Base of the scenarios: one `fetch` that paces, checks and names requests."""

    abstract = True
    wait_time = _wait(Think())  # setup() applies the run's Settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # this user's browser cache: URL → (ETag, fresh until, in time.monotonic())
        self.asset_cache: dict[str, tuple[str | None, float]] = {}
        if DATA is None:  # a worker whose master's settings are still on their way
            anp_channel.wait_ready()

    def fetch_assets(self, resp: Any) -> None:
        """Fetch what the page links to (same site only) as a browser with a cache would.

        First visit: a plain GET. Later: nothing while the asset is fresh (`max-age`, e.g. an
        `immutable` image), else a conditional GET with its ETag (a 304 is a success). Named
        `[asset] /media/…`, `[asset] /static/…`, `[asset] /favicon.ico`.
        """
        urls = {a or b for a, b in _ASSET.findall(resp.text or "")} | {"/favicon.ico"}
        now = time.monotonic()
        for url in sorted(urls):
            etag, fresh_until = self.asset_cache.get(url, (None, 0.0))
            if fresh_until > now:
                continue  # from the browser's cache: no request
            route = _ASSET_ROUTE.match(url)
            name = "[asset] " + (route.group(1) + "…" if route and url.count("/") > 1 else url)
            headers = {"If-None-Match": etag} if etag else None
            with self.client.get(url, name=name, headers=headers, catch_response=True) as got:
                if got.status_code not in (200, 304):
                    got.failure(f"HTTP {got.status_code} for an asset of the page")
                    continue
                got.success()
                cc = (got.headers.get("Cache-Control") or "").lower()
                ages = [int(a) for a in re.findall(r"(?<!s-)max-age=(\d+)", cc)]
                keep = ages[0] if ages and "no-store" not in cc else 0
                self.asset_cache[url] = (got.headers.get("ETag") or etag, now + keep)

    def fetch(
        self,
        path: str,
        name: str,
        *,
        headers: dict[str, str] | None = None,
        status: int = 200,
        logged_in: bool | None = None,
        want: str | None = None,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        """GET `path` as route `name`; mark it failed with a reason when a check fails.

        `logged_in` checks the cache headers (True: must BYPASS); `want` demands an
        X-Cache outcome (e.g. HIT); `check` returns a further problem or None.
        Returns the response, or None when it failed.
        """
        context = {"intended": PACER.slot()} if PACER is not None else {}
        if status == 200 and logged_in is None and want is None and check is None:
            # the hot path (readers, browsers): Locust itself fails 4xx/5xx and errors,
            # and skipping catch_response saves a copy of the response per request
            resp = self.client.get(path, name=name, headers=headers, context=context)
            return resp if resp.status_code == 200 else None
        with self.client.get(
            path, name=name, headers=headers, catch_response=True, context=context
        ) as resp:
            problem = None
            if resp.status_code != status:
                problem = f"HTTP {resp.status_code}, expected {status}"
            elif logged_in is not None:
                problem = cache_problem(resp, logged_in=logged_in, path=path)
            if problem is None and want is not None:
                got = (resp.headers.get("X-Cache") or "").partition(";")[0]
                if got != want:
                    problem = f"X-Cache {got or 'missing'}, expected {want}"
            if problem is None and check is not None:
                problem = check(resp)
            if problem is None:
                resp.success()
                return resp
            resp.failure(problem)
            return None

    def similar_url(self, resp: Any, post: dict[str, Any]) -> str:
        """A link from the page's "Similar Posts" section, else a post of the same stack."""
        text = resp.text
        at = text.find("Similar Posts")
        if at >= 0:
            links = _SIMILAR_LINK.findall(text, at)
            if links:
                return str(random.choice(links))
        assert DATA is not None
        return DATA.same_stack(post)


def shown_names(account: dict[str, Any]) -> set[bytes]:
    """The bytes a page shows for a logged-in account: its names, raw and HTML-escaped."""
    names = [name for name in (account.get("display_name"), account.get("username")) if name]
    return {
        form.encode()
        for name in names
        for form in (name, html.escape(name), html.escape(name).replace("&#x27;", "&#39;"))
    }
