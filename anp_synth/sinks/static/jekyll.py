"""Jekyll: `_posts/YYYY-MM-DD-<slug>.md` under a site root (or the folder given), page `/posts/<slug>/`."""

from __future__ import annotations

from typing import Any, ClassVar

from anp_synth.sinks.static.files import StaticSink


class JekyllSink(StaticSink):
    """Posts as Jekyll posts; Liquid is off in them, so a post's text is never a template."""

    name: ClassVar[str] = "jekyll"
    site_markers = ("_config.yml", "_config.yaml", "_config.toml")
    posts_dir = "_posts"

    def filename(self, post: dict[str, Any]) -> str:
        """Jekyll's convention: the date of publication, then the slug."""
        return f"{post['published_at'][:10]}-{post['slug']}.md"

    def front_matter(self, post: dict[str, Any]) -> dict[str, Any]:
        """The post layout, and no Liquid in the post's own text."""
        return {"layout": "post", "render_with_liquid": False}
