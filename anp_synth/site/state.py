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

    def token_ok(self, authorization: str | None) -> bool:
        """True when the Authorization header carries the import token."""
        return token_ok(authorization, self.token)


def site_of(request: Request) -> Site:
    """The site state of the app serving this request."""
    site: Site = request.app.state.site
    return site
