"""A target's identity: the one spelling of `--target` every command and the ledger use.

    http://Example.COM:80/blog/   →  http://example.com/blog
    HTTPS://127.0.0.1:443         →  https://127.0.0.1
    http://127.0.0.1:8000//       →  http://127.0.0.1:8000
    memory://NAME                 →  memory://NAME      (the in-process test sink)
    ./site/                       →  site               (a static site's folder)

Scheme and host are lower-case, the scheme's default port is dropped, and so are trailing
slashes. Refused, as a usage error naming the target: an empty or bad port
(`http://127.0.0.1:`), port 0, a scheme other than http(s), credentials in the URL (they
would be stored in the ledger: the token comes from a file or the environment), a query or
a fragment. Standard library only: the CLI and the load-test settings use it at start-up.
"""

from __future__ import annotations

import os.path
import re
from urllib.parse import urlsplit

from anp_synth.errors import UsageError

MEMORY = "memory://"
DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def normalise(value: str) -> str:
    """The one spelling of a target (URL, memory://NAME or folder); UsageError("target") if bad."""
    text = value.strip()
    if not text:
        raise UsageError("target", "empty")
    if text[: len(MEMORY)].lower() == MEMORY:
        if len(text) == len(MEMORY):
            raise UsageError("target", f"{value!r}: memory:// needs a NAME")
        return MEMORY + text[len(MEMORY) :]
    if not _SCHEME.match(text):
        return os.path.normpath(text)  # a folder (static sinks); the same without a cwd
    return _url(value, text)


def identity(stored: str) -> str:
    """What a target already in a ledger compares as: its normal spelling, or itself when an
    old ledger holds a spelling the rules now refuse (it still matches only itself)."""
    try:
        return normalise(stored)
    except UsageError:
        return stored


def is_url(target: str) -> bool:
    """True for an http(s) target (as opposed to memory://NAME or a folder)."""
    return target.startswith(("http://", "https://"))


def _url(value: str, text: str) -> str:
    shown = re.sub(r"(?<=://)[^/@]*@", "…@", text)  # a password in the URL is never echoed

    def refuse(why: str) -> UsageError:
        return UsageError("target", f"{shown!r}: {why}")

    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise refuse(f"not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise refuse("expected http://HOST[:PORT] or https://…")
    if "@" in parts.netloc:
        raise refuse("credentials do not belong in the URL (use --token-file or the environment)")
    host = parts.hostname
    if not host:
        raise refuse("no host; expected http://HOST[:PORT]")
    if parts.netloc.endswith(":"):
        raise refuse("no port after ':'")
    try:
        port = parts.port
    except ValueError as exc:
        raise refuse(f"bad port ({exc})") from None
    if port == 0:
        raise refuse("port 0 is not a port a site listens on")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise refuse("a target has no query or fragment")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    return f"{scheme}://{netloc}{path}"
