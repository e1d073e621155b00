"""The per-process site state every route reaches through `site_of(request)`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from anp_synth.site.auth import User, token_ok
from anp_synth.site.cache import PageCache
from anp_synth.site.db import Database


@dataclass
class Site:
    """Database, page cache, import token and users of one worker process."""

    db: Database
    cache: PageCache
    token: str
    users: list[User]
    behind_https: bool = False  # served to readers over https by a proxy in front

    def token_ok(self, authorization: str | None) -> bool:
        """True when the Authorization header carries the import token."""
        return token_ok(authorization, self.token)


def is_https(request: Request) -> bool:
    """True when the reader's connection is https: ours, `--behind-https`, or a trusted proxy's.

    `X-Forwarded-Proto: https` is believed only from a proxy on loopback (Varnish, nginx
    on the same machine); from anyone else it could be forged.
    """
    if request.url.scheme == "https" or site_of(request).behind_https:
        return True
    client = request.client.host if request.client else ""
    trusted = client.startswith("127.") or client == "::1"
    return trusted and request.headers.get("x-forwarded-proto", "").lower() == "https"


def site_of(request: Request) -> Site:
    """The site state of the app serving this request."""
    site: Site = request.app.state.site
    return site
