"""Render a post for a terminal reader, laid out like the seed article."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from anp_synth.layout import body_parts


def _bullets(items: list[str]) -> Text:
    return Text("\n".join(f"  • {item}" for item in items))


def _meta_table(meta: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    outline = meta["outline"]
    rows: list[tuple[str, Text | str]] = [
        ("topic", meta["topic"]),
        ("summary", meta["summary"]),
        ("ai outline", _bullets([f"{k.replace('_', ' ')}: {v}" for k, v in outline.items()])),
        ("ai brief", meta["brief"]),
        ("stack", _bullets(meta["stack"])),
        ("tools", _bullets(meta["tools"])),
        ("code language", meta["code_language"]),
        ("difficulty", meta["difficulty"]),
        ("reading time", str(meta["reading_time"])),
        ("view count", str(meta["view_count"])),
        ("score", _bullets([f"{k}: {v}" for k, v in meta["score"].items()])),
        (
            "revision",
            _bullets([f"{k.replace('_', ' ')}: {v}" for k, v in meta["revision"].items()]),
        ),
        ("reference", meta["reference"]),
        ("hash", meta["hash"]),
        ("flags", _bullets([f"{k.replace('_', ' ')}: {v}" for k, v in meta["flags"].items()])),
        ("checklist", _bullets(meta["checklist"])),
        (
            "entities",
            _bullets([f"name: {e['name']} · type: {e['type']}" for e in meta["entities"]]),
        ),
        (
            "image sources",
            _bullets(
                [f"{i['source']}: {i['url']} ({i['caption']})" for i in meta["image_sources"]]
            ),
        ),
        ("payload", _bullets([f"{k.replace('_', ' ')}: {v}" for k, v in meta["payload"].items()])),
        ("notes", _bullets(meta["notes"])),
    ]
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else Text(value))
    return table


def render_post(post: dict[str, Any], console: Console) -> None:
    """Print the post: title, lead, image, sections, code, checklist, meta box, similar posts."""
    console.print(Text(post["title"], style="bold"))
    console.print(Text(f"{post['author']} · {post['published_at']}", style="dim"))
    console.print()
    console.print(Text(post["lead"]))
    image = post["image"]
    console.print(
        Text(f"\n[image] {image['caption']}. image source: {image['source']}", style="italic")
    )
    for part in body_parts(post):
        if part.heading is not None:
            console.print(Text(f"\n{part.heading}", style="bold underline"))
        for block in part.blocks:
            if block.kind == "paragraph":
                console.print(Text(block.value))
                console.print()
            elif block.kind == "code":
                code = block.value
                console.print(Syntax(code["source"], code["language"], theme="ansi_dark"))
            else:
                console.print(_bullets(block.value))
    console.print(Panel(_meta_table(post["meta"]), title=escape("alphanode post meta")))
    console.print(Text("Similar Posts", style="bold"))
    console.print(Group(*(Text(f"  • {s}") for s in post["similar"])))
