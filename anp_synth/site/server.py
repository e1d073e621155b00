"""Run the site under uvicorn: resolve token and users once, then start the workers."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from anp_synth.errors import UsageError
from anp_synth.site import app as site_app
from anp_synth.site.auth import TOKEN_ENV, load_token, load_users
from anp_synth.site.db import Database


def uvicorn_options() -> dict[str, str]:
    """The fastest HTTP parser and event loop installed (httptools, uvloop), else the defaults."""
    return {
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    }


def serve(
    db_path: str,
    host: str,
    port: int,
    workers: int,
    users_file: str | None,
    token_file: str | None,
    access_log: bool = True,
    key_headers: str | None = None,
    behind_https: bool = False,
) -> None:
    """Serve the site until interrupted."""
    import uvicorn

    if not 0 < port < 65536:
        raise UsageError("port", f"expected 1-65535, got {port}")
    if workers < 1:
        raise UsageError("workers", f"expected at least 1, got {workers}")
    if key_headers is not None:
        try:
            site_app.parse_key_headers(key_headers)
        except ValueError as exc:
            raise UsageError("key_headers", str(exc)) from None
        os.environ[site_app.ENV_KEY_HEADERS] = key_headers
    os.environ[site_app.ENV_BEHIND_HTTPS] = "1" if behind_https else "0"
    if users_file and not Path(users_file).is_file():
        raise UsageError("users", f"no such file: {users_file}")
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    # Create and migrate the file once here, so workers never race on the schema.
    db = Database(db_path)
    posts = db.count()
    db.close()
    source = load_token(db_path, token_file)
    _, users_at = load_users(db_path, users_file)
    os.environ[site_app.ENV_DB] = db_path
    os.environ[site_app.ENV_USERS] = str(users_at)
    os.environ[site_app.ENV_ACCESS_LOG] = "1" if access_log else "0"
    if source.origin != "env" and source.path is not None:
        os.environ[site_app.ENV_TOKEN_FILE] = str(source.path)
    if source.origin == "env":
        where = f"from {TOKEN_ENV}"
    elif source.origin == "file":
        where = f"from {source.path}"
    else:
        where = f"generated and stored in {source.path} (mode 0600)"
    print(
        f"anp-synth site: http://{host}:{port}/  db {db_path} ({posts:,} posts), "
        f"{workers} worker(s), import token {where}, users from {users_at}",
        file=sys.stderr,
        flush=True,
    )
    if source.origin == "generated" and sys.stderr.isatty():
        # Printed once, to a terminal only: a log file or pipe never receives the token.
        print(f"import token (shown once): {source.token}", file=sys.stderr, flush=True)
    uvicorn.run(
        "anp_synth.site.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=5,
        **uvicorn_options(),  # type: ignore[arg-type]
    )
