"""Who may write (the import token) and who may log in (users and session cookies)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import orjson

from anp_synth import accounts
from anp_synth.accounts import Account as User  # a user who may log in
from anp_synth.errors import UsageError

TOKEN_ENV = "ANP_SITE_TOKEN"
SESSION_TTL_S = 7 * 24 * 3600
MIN_TOKEN_CHARS = 16


def token_path(db_path: str | Path) -> Path:
    """Where a generated token is kept: beside the database."""
    return Path(f"{db_path}.token")


def users_path(db_path: str | Path) -> Path:
    """Where generated demo users are kept: beside the database."""
    return Path(f"{db_path}.users.json")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _read_token_file(path: Path, option: str | None) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(option, f"cannot read {path}: {exc.strerror}") from None
    if len(token) < MIN_TOKEN_CHARS:
        raise UsageError(option, f"the token in {path} is shorter than {MIN_TOKEN_CHARS} chars")
    return token


@dataclass(frozen=True)
class TokenSource:
    """The import token and where it came from (never the token itself in messages)."""

    token: str
    origin: str  # "env", "file" or "generated"
    path: Path | None = None


def load_token(db_path: str | Path, token_file: str | None = None) -> TokenSource:
    """The import token: env ANP_SITE_TOKEN, else --token-file, else `<db>.token` (made if absent)."""
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        if len(env) < MIN_TOKEN_CHARS:
            raise UsageError(
                None, f"{TOKEN_ENV}: the token is shorter than {MIN_TOKEN_CHARS} chars"
            )
        return TokenSource(env, "env")
    if token_file:
        path = Path(token_file)
        return TokenSource(_read_token_file(path, "token_file"), "file", path)
    path = token_path(db_path)
    if path.exists():
        return TokenSource(_read_token_file(path, None), "file", path)
    token = secrets.token_urlsafe(32)
    _write_private(path, token.encode() + b"\n")
    return TokenSource(token, "generated", path)


def token_ok(authorization: str | None, token: str) -> bool:
    """True when an Authorization header carries the token as a Bearer credential."""
    if not authorization:
        return False
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def load_users(db_path: str | Path, users_file: str | None = None) -> tuple[list[User], Path]:
    """Users from --users PATH, else from `<db>.users.json`, made with random passwords if absent."""
    path = Path(users_file) if users_file else users_path(db_path)
    if not users_file and not path.exists():
        demo = {
            "users": [
                User(name, secrets.token_urlsafe(12), display).as_dict()
                for name, display in (("editor", "Edith Editor"), ("reviewer", "Rafael Reviewer"))
            ]
        }
        _write_private(path, orjson.dumps(demo, option=orjson.OPT_INDENT_2) + b"\n")
    return accounts.read(path), path


def check_password(users: list[User], username: str, password: str) -> User | None:
    """The user these credentials belong to, or None (compared in constant time)."""
    found = None
    for user in users:
        name_ok = hmac.compare_digest(user.username.encode(), username.encode())
        pass_ok = hmac.compare_digest(user.password.encode(), password.encode())
        if name_ok and pass_ok:
            found = user
    return found


def new_session_id() -> str:
    """A fresh session cookie value."""
    return secrets.token_urlsafe(32)


def session_hash(session_id: str) -> str:
    """What the database stores for a session: a hash, so a stolen file yields no cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()
