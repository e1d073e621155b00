"""Eleventy: `posts/<slug>.md` under a site root (or the folder given), page `/posts/<slug>/`.

The folder's data file (`posts/posts.11tydata.js`, laid by `site init eleventy`) gives every
post its layout and permalink and turns template processing of Markdown off.
"""

from __future__ import annotations

from typing import ClassVar

from anp_synth.sinks.static.files import StaticSink


class EleventySink(StaticSink):
    """Posts as Eleventy Markdown templates in a folder with a directory data file."""

    name: ClassVar[str] = "eleventy"
    site_markers = (
        "eleventy.config.js",
        "eleventy.config.mjs",
        "eleventy.config.cjs",
        ".eleventy.js",
    )
    posts_dir = "posts"
