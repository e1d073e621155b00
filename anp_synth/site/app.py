"""The FastAPI factory of the reference site."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from anp_synth.edge.keys import KEY_HEADERS_DEFAULT
from anp_synth.errors import ApiError
from anp_synth.post import FieldError, field_errors
from anp_synth.site.accesslog import FLUSH_S, AccessLog
from anp_synth.site.api import MAX_REPORTED_ERRORS, error_body, json_response
from anp_synth.site.api import router as api_router
from anp_synth.site.assets import router as assets_router
from anp_synth.site.auth import User, load_token, load_users
from anp_synth.site.cache import CacheMiddleware, PageCache, Receive, Scope, Send
from anp_synth.site.db import Database
from anp_synth.site.feeds import router as feeds_router
from anp_synth.site.media import router as media_router
from anp_synth.site.openapi import openapi_document
from anp_synth.site.pages import router as pages_router
from anp_synth.site.render import render_error
from anp_synth.site.state import Site, site_of

# The worker processes of `site serve --workers N` rebuild their config from these.
ENV_DB = "ANP_SITE_DB"
ENV_USERS = "ANP_SITE_USERS"
ENV_TOKEN_FILE = "ANP_SITE_TOKEN_FILE"
ENV_ACCESS_LOG = "ANP_SITE_ACCESS_LOG"
ENV_KEY_HEADERS = "ANP_SITE_KEY_HEADERS"  # comma-separated header names for the cache keys
ENV_BEHIND_HTTPS = "ANP_SITE_BEHIND_HTTPS"  # "1": readers come over https (session cookie Secure)


def parse_key_headers(value: str) -> tuple[str, ...]:
    """`Surrogate-Key,xkey` → the header names; an empty value sends no key header."""
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    for name in names:
        if not name.replace("-", "").isalnum():
            raise ValueError(f"{name!r} is not a header name")
    return names


def package_version() -> str:
    """The installed anp-synth version."""
    try:
        return version("anp-synth")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class SiteConfig:
    """What a site process needs: database path, import token, users, access log switch."""

    db_path: str
    token: str
    users: list[User] = field(default_factory=list)
    access_log: bool = True
    log_fd: int | None = None
    key_headers: tuple[str, ...] = KEY_HEADERS_DEFAULT
    behind_https: bool = False

    @classmethod
    def load(
        cls,
        db_path: str,
        token_file: str | None = None,
        users_file: str | None = None,
        access_log: bool = True,
    ) -> SiteConfig:
        """Resolve the token and users the way `site serve` does (env, files, generated)."""
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        token = load_token(db_path, token_file).token
        users, _ = load_users(db_path, users_file)
        return cls(db_path, token, users, access_log)


class SiteApp(FastAPI):
    """FastAPI with the cache layer OUTSIDE its middleware stack: a cache HIT costs no routing."""

    cache_layer: CacheMiddleware

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.cache_layer(scope, receive, send)

    async def _inner(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """The import API's document (anp_synth.site.openapi), built once."""
        if not self.openapi_schema:
            self.openapi_schema = openapi_document(self)
        return self.openapi_schema


def is_api_path(path: str) -> bool:
    """Paths that answer JSON, errors included; every other path is a page and answers HTML."""
    return path.startswith("/api/") or path in ("/health", "/openapi.json")


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at this path (the `Allow` of a 405), HEAD with GET.

    Asked method by method through `matches`, so routers that FastAPI nests are asked too.
    """
    methods = {
        method
        for method in _METHODS
        if any(r.matches({**scope, "method": method})[0] is Match.FULL for r in routes)
    }
    if "GET" in methods:  # the cache layer answers HEAD as a GET without the body
        methods.add("HEAD")
    return sorted(methods)


def create_app(config: SiteConfig) -> SiteApp:
    """Build the site: pages, import API, health, cache layer and access log."""
    app = SiteApp(
        title="anp-synth reference site",
        version=package_version(),
        description="The reference target of the anp-synth import contract.",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    db = Database(config.db_path)
    cache = PageCache(db)
    app.state.site = Site(db, cache, config.token, config.users, config.behind_https)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return json_response(error_body(exc), exc.status, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if not is_api_path(request.url.path):  # `/page/abc`: no such page, not a JSON 422
            return render_error(request, 404, "no such page")
        errors = field_errors(exc, MAX_REPORTED_ERRORS) or [FieldError("(request)", "invalid")]
        body = {
            "error": str(errors[0]),
            "field": errors[0].field,
            "errors": [{"field": e.field, "message": e.message} for e in errors],
        }
        return json_response(body, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app.router.routes, request.scope))
        if is_api_path(request.url.path):
            return json_response({"error": str(exc.detail)}, exc.status_code, headers)
        response = render_error(request, exc.status_code, str(exc.detail))
        response.headers.update(headers)
        return response

    @app.get("/health", summary="Up, database reachable, post count, version")
    async def health(request: Request) -> Response:
        site = site_of(request)
        try:
            posts = site.db.count()
            schema = site.db.schema_version()
        except Exception as exc:  # any database failure means "not healthy", not a crash
            return json_response({"status": "error", "db": type(exc).__name__}, 503)
        return json_response(
            {
                "status": "ok",
                "db": "ok",
                "posts": posts,
                "version": package_version(),
                "schema": schema,
            }
        )

    app.include_router(api_router)
    app.include_router(pages_router)
    app.include_router(assets_router)
    app.include_router(feeds_router)
    app.include_router(media_router)
    log = AccessLog(config.log_fd, enabled=config.access_log)
    app.state.access_log = log
    app.cache_layer = CacheMiddleware(app._inner, cache, log, config.key_headers)
    return app


async def _flush_periodically(log: AccessLog) -> None:
    while True:
        await asyncio.sleep(FLUSH_S)
        log.flush()


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Flush the access log on a timer while serving; flush it and close the db at shutdown."""
    log: AccessLog = app.state.access_log
    task = asyncio.get_running_loop().create_task(_flush_periodically(log))
    # Everything made at start-up lives as long as the process: keep it out of the
    # collector's way so full collections stay short.
    gc.freeze()
    try:
        yield
    finally:
        task.cancel()
        log.flush()
        site_of_app(app).db.close()


def site_of_app(app: FastAPI) -> Site:
    """The site state of an app."""
    site: Site = app.state.site
    return site


def app_from_env() -> SiteApp:
    """The app of a `site serve` worker: config from the environment its parent set."""
    db_path = os.environ[ENV_DB]
    config = SiteConfig.load(
        db_path,
        os.environ.get(ENV_TOKEN_FILE) or None,
        os.environ.get(ENV_USERS) or None,
        os.environ.get(ENV_ACCESS_LOG, "1") == "1",
    )
    config.behind_https = os.environ.get(ENV_BEHIND_HTTPS, "0") == "1"
    if ENV_KEY_HEADERS in os.environ:
        config.key_headers = parse_key_headers(os.environ[ENV_KEY_HEADERS])
    return create_app(config)
