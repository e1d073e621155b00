"""The HTML pages: home, post, stack and tag listings, search, login and logout."""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from anp_synth.edge.keys import listing_page_keys, post_page_keys
from anp_synth.site.auth import SESSION_TTL_S, check_password, new_session_id, session_hash
from anp_synth.site.cache import SESSION_COOKIE, ListingSpan
from anp_synth.site.render import render
from anp_synth.site.state import is_https, site_of

PER_PAGE = 20
MAX_PAGE = 10_000
MAX_SEARCH_PAGE = 50
MAX_FORM_BYTES = 16 * 1024
META_LABELS = {"outline": "ai outline", "brief": "ai brief"}

router = APIRouter(include_in_schema=False)


def _page_url(base: str, page: int) -> str:
    if page <= 1:
        return base or "/"
    return f"{base}/page/{page}"


def _listing(request: Request, name: str, base: str, page: int, heading: str) -> Response:
    if page == 1 and request.url.path.endswith("/page/1"):
        return RedirectResponse(base or "/", 301)  # one URL per page: /page/1 is /
    if page < 1 or page > MAX_PAGE:
        raise HTTPException(404, "no such page")
    result = site_of(request).db.listing(name, page, PER_PAGE)
    if not result.items and (page > 1 or name != "home"):
        raise HTTPException(404, "no such page")
    request.state.span = ListingSpan(
        name,
        result.items[0].key if result.items else None,
        result.items[-1].key if result.items else None,
        result.peek,
    )
    request.state.keys = listing_page_keys(name, page, [i.post["source_id"] for i in result.items])
    title = result.title or heading
    return render(
        request,
        "listing.html",
        heading=heading.format(title=title),
        items=result.items,
        page=page,
        newer=_page_url(base, page - 1) if page > 1 else None,
        older=_page_url(base, page + 1) if result.has_next else None,
    )


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """The latest posts."""
    return _listing(request, "home", "", 1, "Latest posts")


@router.get("/page/{page}", response_class=HTMLResponse)
async def home_page(request: Request, page: int) -> Response:
    """Older posts, page by page."""
    return _listing(request, "home", "", page, "Latest posts")


@router.get("/stack/{slug}", response_class=HTMLResponse)
async def stack(request: Request, slug: str) -> Response:
    """Posts of one stack."""
    return _listing(request, f"stack:{slug}", f"/stack/{slug}", 1, "Stack: {title}")


@router.get("/stack/{slug}/page/{page}", response_class=HTMLResponse)
async def stack_page(request: Request, slug: str, page: int) -> Response:
    """Posts of one stack, page by page."""
    return _listing(request, f"stack:{slug}", f"/stack/{slug}", page, "Stack: {title}")


@router.get("/tag/{slug}", response_class=HTMLResponse)
async def tag(request: Request, slug: str) -> Response:
    """Posts with one tag."""
    return _listing(request, f"tag:{slug}", f"/tag/{slug}", 1, "Tag: {title}")


@router.get("/tag/{slug}/page/{page}", response_class=HTMLResponse)
async def tag_page(request: Request, slug: str, page: int) -> Response:
    """Posts with one tag, page by page."""
    return _listing(request, f"tag:{slug}", f"/tag/{slug}", page, "Tag: {title}")


@router.get("/posts/{slug}", response_class=HTMLResponse)
async def post_page(request: Request, slug: str) -> HTMLResponse:
    """One post, laid out like the seed article, with its meta box and similar posts."""
    db = site_of(request).db
    item = db.by_slug(slug)
    if item is None:
        raise HTTPException(404, "no such post")
    similar = db.similar(item)
    request.state.keys = post_page_keys(
        item.post["source_id"], item.post["similar"], [s.source_id for s in similar]
    )
    return render(request, "post.html", post=item.post, similar=similar, meta_labels=META_LABELS)


@router.get("/search", response_class=HTMLResponse)
async def search(
    request: Request,
    q: str = Query("", max_length=500),
    page: int = Query(1, ge=1, le=MAX_SEARCH_PAGE),
) -> HTMLResponse:
    """Posts whose title or text hold every word of the query."""
    items, has_next = site_of(request).db.search(q, page, PER_PAGE) if q.strip() else ([], False)
    base = f"/search?q={quote(q)}"
    return render(
        request,
        "search.html",
        q=q,
        items=items,
        page=page,
        newer=f"{base}&page={page - 1}" if page > 1 else None,
        older=f"{base}&page={page + 1}" if has_next else None,
        empty="No results: no post holds every word." if page == 1 else "No more results.",
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    """The login form."""
    return render(request, "login.html")


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the form's user name and password; set a session cookie and go home."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    form = parse_qs(body.decode("utf-8", "replace"))
    username = (form.get("username") or [""])[0]
    password = (form.get("password") or [""])[0]
    site = site_of(request)
    user = check_password(site.users, username, password)
    if user is None:
        return render(
            request, "login.html", 401, error="wrong user name or password", username=username
        )
    session_id = new_session_id()
    site.db.create_session(
        session_hash(session_id), user.username, user.display_name, SESSION_TTL_S
    )
    response = RedirectResponse("/", 303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session and go home."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        site_of(request).db.delete_session(session_hash(cookie))
    response = RedirectResponse("/", 303)
    response.delete_cookie(SESSION_COOKIE, secure=is_https(request), httponly=True)
    return response
