"""Write the sample fixtures of `profile fit` (a small WordPress export and a Markdown site).

They stand for a real site's posts: uneven body lengths, a few popular tags and a
long tail, three authors, posts on weekday mornings, a draft and an attachment that
fit must skip. Deterministic (random.Random with a fixed seed); rewrite with

    .venv/bin/python -m tests.generate.samples.make
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
WXR = HERE / "site.wxr.xml"
MARKDOWN = HERE / "markdown"
WORDS = [
    "cache",
    "build",
    "deploy",
    "page",
    "query",
    "index",
    "server",
    "render",
    "template",
    "request",
    "latency",
    "worker",
    "queue",
    "release",
    "config",
    "header",
    "route",
    "purge",
    "import",
    "export",
    "theme",
    "plugin",
    "field",
    "term",
]
TAGS = [f"tag-{n:02d}" for n in range(1, 61)]
CATEGORIES = ["backend", "frontend", "ops", "databases", "release notes"]
AUTHORS = ["ana", "bo", "chidi"]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 14))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _code(n: int) -> list[list[str]]:
    """A post's code blocks as lines: mostly one short block, some tutorials with several long
    ones (their own stream, so the other fields are those of the first fixtures)."""
    rng = random.Random(n)
    blocks = rng.choice([1, 1, 1, 2, 2, 3, 5])
    return [
        [
            f"make step-{i} && echo '<done {i}>'"
            for i in range(min(120, int(rng.lognormvariate(2, 0.8)) + 1))
        ]
        for _ in range(blocks)
    ]


def _post(rng: random.Random, n: int) -> dict:
    day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(540))
    while day.weekday() >= 5 and rng.random() < 0.9:
        day += dt.timedelta(days=1)
    hour = rng.choice([8, 9, 9, 10, 10, 10, 11, 14, 16])
    k = min(len(TAGS), int(rng.paretovariate(1.2)) + rng.randint(0, 2))
    tags: list[str] = []
    while len(tags) < k:
        tag = TAGS[min(len(TAGS) - 1, int(rng.paretovariate(0.9)) - 1)]
        if tag not in tags:
            tags.append(tag)
    return {
        "title": f"post {n}",
        "author": AUTHORS[0 if rng.random() < 0.6 else rng.randint(1, 2)],
        "date": dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), 0),
        "tags": tags,
        "categories": [rng.choice(CATEGORIES)],
        "paragraphs": [_paragraph(rng) for _ in range(rng.choice([2, 3, 4, 6, 8, 12, 20]))],
        "code": _code(n) if rng.random() < 0.4 else [],
        "images": rng.choice([0, 1, 1, 2, 4]),
        "views": int(rng.lognormvariate(6, 1.0)),
    }


def wxr(posts: list[dict]) -> str:
    items = []
    for n, post in enumerate(posts, 1):
        body = [
            f"<!-- wp:paragraph -->\n<p>{escape(p)}</p>\n<!-- /wp:paragraph -->"
            for p in post["paragraphs"]
        ]
        body.insert(1, "<h2>How it works</h2>")
        for lines in post["code"]:
            code = escape("\n".join(lines))
            body.insert(2, f'<pre class="wp-block-code"><code>{code}</code></pre>')
        body += ['<figure><img src="/img/x.png" alt="x"/></figure>'] * post["images"]
        terms = [
            f'<category domain="post_tag" nicename="{t}"><![CDATA[{t}]]></category>'
            for t in post["tags"]
        ]
        terms += [
            f'<category domain="category" nicename="c"><![CDATA[{c}]]></category>'
            for c in post["categories"]
        ]
        stamp = post["date"].strftime("%Y-%m-%d %H:%M:%S")
        items.append(
            f"""<item>
<title>{post["title"]}</title>
<dc:creator><![CDATA[{post["author"]}]]></dc:creator>
<content:encoded><![CDATA[{chr(10).join(body)}]]></content:encoded>
<wp:post_id>{n}</wp:post_id>
<wp:post_date><![CDATA[{stamp}]]></wp:post_date>
<wp:post_date_gmt><![CDATA[{stamp}]]></wp:post_date_gmt>
<wp:status><![CDATA[{"draft" if n % 50 == 0 else "publish"}]]></wp:status>
<wp:post_type><![CDATA[post]]></wp:post_type>
{chr(10).join(terms)}
<wp:postmeta><wp:meta_key><![CDATA[post_views_count]]></wp:meta_key><wp:meta_value><![CDATA[{post["views"]}]]></wp:meta_value></wp:postmeta>
</item>"""
        )
    items.append(
        "<item><title>logo</title><wp:post_type><![CDATA[attachment]]></wp:post_type>"
        "<wp:status><![CDATA[inherit]]></wp:status></item>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        '<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">\n'
        "<channel>\n<title>a site</title>\n<wp:wxr_version>1.2</wp:wxr_version>\n"
        + "\n".join(items)
        + "\n</channel>\n</rss>\n"
    )


def markdown(post: dict, n: int) -> str:
    date = post["date"].strftime("%Y-%m-%dT%H:%M:%SZ")
    if n % 2:
        front = (
            f'---\ntitle: "{post["title"]}"\ndate: {date}\nauthor: {post["author"]}\n'
            f"tags: [{', '.join(post['tags'])}]\ncategories:\n"
            + "".join(f"  - {c}\n" for c in post["categories"])
            + ("draft: true\n" if n % 25 == 0 else "")
            + "---\n"
        )
    else:
        tags = ", ".join(f'"{t}"' for t in post["tags"])
        cats = ", ".join(f'"{c}"' for c in post["categories"])
        front = (
            f'+++\ntitle = "{post["title"]}"\ndate = {date}\nauthor = "{post["author"]}"\n'
            f"tags = [{tags}]\ncategories = [{cats}]\n+++\n"
        )
    body = ["# " + post["title"], *post["paragraphs"]]
    for lines in post["code"]:
        body.insert(2, "```sh\n" + "".join(f"{line}\n" for line in lines) + "```")
    body += ["![a figure](/img/x.png)"] * post["images"]
    return front + "\n" + "\n\n".join(body) + "\n"


def main() -> None:
    rng = random.Random(20261201)
    posts = [_post(rng, n) for n in range(1, 201)]
    WXR.write_text(wxr(posts), encoding="utf-8")
    MARKDOWN.mkdir(exist_ok=True)
    for old in MARKDOWN.glob("*.md"):
        old.unlink()
    for n, post in enumerate(posts[:120], 1):
        (MARKDOWN / f"post-{n:03d}.md").write_text(markdown(post, n), encoding="utf-8")
    print(f"wrote {WXR} and {MARKDOWN}")


if __name__ == "__main__":
    main()
