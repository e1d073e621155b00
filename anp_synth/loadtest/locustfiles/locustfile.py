"""anp-synth's traffic model against a content site (the reference site or any target).

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 \
        --anp-data out/targets.json [--anp-accounts users.json] [--anp-weights reader=6,…]

Four scenarios, weighted by the load-test Settings (`anp_synth.loadtest.settings`:
`--weights`, or plain Locust's --anp-weights; default reader=6,browser=3,member=1,inspector=1):
- reader: opens post pages with probability proportional to their view count,
  then sometimes one of the post's similar posts;
- browser: home, stack and tag listings (deep pages too), search;
- member: logs in once, then browses; nothing may come from the shared cache;
- inspector: checks Cache-Control / ETag / X-Cache by the site's rules and
  makes conditional GETs that must answer 304.
A static site (the manifest's site "static") has no search and no login: those requests
are not made, and the inspector holds every page to "may be cached, can be revalidated".
`anp-synth loadtest` runs this file headless and judges the results.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

import anp_support as anp
from anp_support import AnpUser
from locust import events, task


class Reader(AnpUser):
    """Reads posts, the popular ones more often."""

    @task
    def read_post(self) -> None:
        assert anp.DATA is not None
        post = anp.DATA.pick_post()
        resp = self.fetch(post["url"], "/posts/[slug]")
        if resp is not None and anp.ASSETS:
            self.fetch_assets(resp)
        if resp is not None and random.random() < anp.DATA.similar:
            self.fetch(self.similar_url(resp, post), "/posts/[slug]")


class Browser(AnpUser):
    """Browses listings and searches."""

    @task(3)
    def home(self) -> None:
        self.fetch("/", "/")

    @task(1)
    def home_deep(self) -> None:
        assert anp.DATA is not None
        if anp.DATA.home_pages > 1:
            self.fetch(anp.DATA.home_page(random.randint(2, anp.DATA.home_pages)), "/page/[n]")

    @task(2)
    def stack(self) -> None:
        self._listing("stack", anp.DATA.stacks if anp.DATA else [])

    @task(2)
    def tag(self) -> None:
        self._listing("tag", anp.DATA.tags if anp.DATA else [])

    @task(2)
    def search(self) -> None:
        assert anp.DATA is not None
        if not anp.DATA.searchable:
            return  # a static site has no search
        if anp.DATA.deep_terms and random.random() < 0.25:
            self.fetch(
                anp.DATA.search(quote(random.choice(anp.DATA.deep_terms)), 2), "/search?page=[n]"
            )
        else:
            self.fetch(anp.DATA.search(quote(random.choice(anp.DATA.terms))), "/search")

    def _listing(self, kind: str, entries: list[anp.Listing]) -> None:
        if not entries:
            return
        assert anp.DATA is not None
        slug, pages = random.choice(entries)
        if pages > 1 and random.random() < 0.3:
            self.fetch(
                anp.DATA.listing(kind, slug, random.randint(2, pages)), f"/{kind}/[slug]/page/[n]"
            )
        else:
            self.fetch(anp.DATA.listing(kind, slug), f"/{kind}/[slug]")


class Member(AnpUser):
    """Logs in once, then browses; every response must bypass the shared cache."""

    _next_account = 0

    def on_start(self) -> None:
        account = anp.ACCOUNTS[Member._next_account % len(anp.ACCOUNTS)]
        Member._next_account += 1
        self.names_shown = anp.shown_names(account)
        if anp.DATA is not None and anp.DATA.site == "wordpress":
            self._wordpress_login(account)
            return
        self.fetch("/login", "/login")
        with self.client.post(
            "/login",
            data={"username": account["username"], "password": account["password"]},
            name="/login (POST)",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200 or not self.client.cookiejar:
                resp.failure(f"login failed: HTTP {resp.status_code}, no session cookie")
            else:
                resp.success()

    def _wordpress_login(self, account: dict[str, str]) -> None:
        # WordPress's own form: its login cookie (wordpress_logged_in_*) is the session.
        self.fetch("/wp-login.php", "/login")
        with self.client.post(
            "/wp-login.php",
            data={"log": account["username"], "pwd": account["password"], "rememberme": "forever"},
            name="/login (POST)",
            catch_response=True,
        ) as resp:
            names = [c.name for c in self.client.cookiejar] if self.client.cookiejar else []
            if not any(n.startswith("wordpress_logged_in_") for n in names):
                resp.failure(
                    f"login failed: HTTP {resp.status_code}, no wordpress_logged_in cookie"
                )
            else:
                resp.success()

    def _browse(self, path: str, name: str) -> None:
        self.fetch(path, f"[member] {name}", logged_in=True, check=self._shows_user)

    def _shows_user(self, resp: Any) -> str | None:
        # a page without the user's name was rendered for someone else (or nobody)
        body = resp.content or b""
        if any(name in body for name in self.names_shown):
            return None
        return "logged-in page lacks the user's name"

    @task(3)
    def read(self) -> None:
        assert anp.DATA is not None
        self._browse(anp.DATA.pick_post()["url"], "/posts/[slug]")

    @task(1)
    def home(self) -> None:
        self._browse("/", "/")


class Inspector(AnpUser):
    """Checks the cache rules: headers, a HIT on the second request, 304 on a conditional GET."""

    @task(3)
    def post_page(self) -> None:
        assert anp.DATA is not None
        self._inspect(random.choice(anp.DATA.urls), "/posts/[slug]")

    @task(1)
    def listing(self) -> None:
        assert anp.DATA is not None
        if anp.DATA.stacks:
            self._inspect(
                anp.DATA.listing("stack", random.choice(anp.DATA.stacks).slug), "/stack/[slug]"
            )
        else:
            self._inspect("/", "/")

    @task(1)
    def search(self) -> None:
        assert anp.DATA is not None
        if not anp.DATA.searchable:
            return
        self.fetch(
            anp.DATA.search(quote(random.choice(anp.DATA.terms))),
            "[inspect] /search",
            logged_in=False,
        )

    @task(1)
    def query_string(self) -> None:
        # a query string must bypass the cache (it could poison or fill it); tracking
        # parameters (utm_*, gclid, …) do not count, so this one is not one of them
        assert anp.DATA is not None
        self.fetch(
            random.choice(anp.DATA.urls) + "?preview=anp",
            "[inspect] /posts/[slug]?query",
            logged_in=False,
        )

    def _inspect(self, path: str, name: str) -> None:
        first = self.fetch(path, f"[inspect] {name}", logged_in=False)
        if first is None:
            return
        if not first.headers.get("X-Cache"):
            # no cache of its own (a static site, WordPress without a page cache): no HIT to
            # wait for, but a page that says its ETag must answer a conditional GET with 304
            etag = first.headers.get("ETag")
            if etag:
                headers = {"If-None-Match": etag}
                self.fetch(path, f"[inspect] {name} (304)", headers=headers, status=304)
            return
        # the first request may be a MISS; right after it the page must be a HIT (on a
        # site with several workers, each has its own cache: --anp-hit-tries N)
        second = None
        for attempt in range(anp.HIT_TRIES, 0, -1):
            want = "HIT" if attempt == 1 else None
            second = self.fetch(path, f"[inspect] {name} (again)", logged_in=False, want=want)
            if second is None or second.headers.get("X-Cache", "").startswith("HIT"):
                break
        etag = (second or first).headers.get("ETag")
        if etag:
            self.fetch(path, f"[inspect] {name} (304)", headers={"If-None-Match": etag}, status=304)


CLASSES: dict[str, Any] = {
    "reader": Reader,
    "browser": Browser,
    "member": Member,
    "inspector": Inspector,
}


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    anp.setup(environment, CLASSES)
