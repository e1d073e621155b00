"""Run the site under uvicorn: resolve token and users once, then start the workers."""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import socket
import sqlite3
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


def open_db(path: Path) -> int:
    """Create or migrate the site's file once (workers never race on the schema); its posts.

    A directory, a folder that cannot be made, a file that is not SQLite or is another
    program's SQLite file: one UsageError naming --db, nothing written.
    """
    if path.is_dir():
        raise UsageError("db", f"{path} is a directory, not a database file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            "db", f"cannot create {path}: a part of {path.parent} is not a folder"
        ) from None
    except OSError as exc:
        raise UsageError(
            "db", f"cannot create the folder {path.parent}: {exc.strerror or exc}"
        ) from None
    if path.exists():
        try:
            with contextlib.closing(
                sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            ) as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = [
                    r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                ]
        except sqlite3.DatabaseError as exc:
            raise UsageError("db", f"{path}: not an SQLite database ({exc})") from None
        if version == 0 and tables:  # the site's file has a schema version from its first start
            raise UsageError(
                "db", f"{path}: an SQLite file, but not the site's (tables {', '.join(tables[:4])})"
            )
    try:
        db = Database(path)
        try:
            return db.count()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise UsageError("db", f"{path}: cannot open or create it ({exc})") from None


def check_port(host: str, port: int) -> None:
    """Bind HOST:PORT once, as uvicorn will, so that the URL is announced only when it can be.

    A port in use or an address this machine does not have is one UsageError, exit 2.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError("port", f"{host}:{port} is in use by another program") from None
            raise UsageError(
                "host", f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None


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
    check_port(host, port)  # before anything is written
    posts = open_db(Path(db_path))
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
