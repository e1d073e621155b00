"""Hugo: `content/posts/<slug>.md` under a site root (or the folder given), page `/posts/<slug>/`."""

from __future__ import annotations

from typing import ClassVar

from anp_synth.sinks.static.files import StaticSink
from anp_synth.sinks.static.markdown import hugo_code


class HugoSink(StaticSink):
    """Posts as Hugo pages: the meta box and the rest of the post are page params."""

    name: ClassVar[str] = "hugo"
    site_markers = ("hugo.toml", "hugo.yaml", "hugo.json", "config.toml", "config.yaml")
    posts_dir = "content/posts"

    def code_source(self, source: str) -> str:
        """Hugo reads shortcodes in code blocks too: escaped so that it shows them as written."""
        return hugo_code(source)
