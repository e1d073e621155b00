"""Hugo: `content/posts/<slug>.md` under a site root (or the folder given), page `/posts/<slug>/`."""

from __future__ import annotations

from typing import ClassVar

from anp_synth.sinks.static.files import StaticSink


class HugoSink(StaticSink):
    """Posts as Hugo pages: the meta box and the rest of the post are page params."""

    name: ClassVar[str] = "hugo"
    site_markers = ("hugo.toml", "hugo.yaml", "hugo.json", "config.toml", "config.yaml")
    posts_dir = "content/posts"
