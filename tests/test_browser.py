"""The scripted browser: reading pages, filling forms like a person, cookies, manual redirects, interception
and the exchange record, against a small real aiohttp site."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from simulators.browser import (
    Browser,
    BrowserError,
    ElementNotFound,
    FieldNotFillable,
    NavigationFailed,
    TooManyRedirects,
    parse_page,
)

pytestmark = pytest.mark.anyio

FORM_PAGE = """<!doctype html>
<html><head><title> Account
 settings </title><style>.x { color: red }</style><script>var secret = "do not show";</script></head>
<body data-page="settings" data-error="none">
<h1>Settings</h1>
<p>Hello &amp; welcome</p>
<a href="/help">Get help</a>
<form id="profile" method="POST" action="/save">
  <input type="hidden" name="csrf_token" value="tok-1">
  <label for="name">Full name</label><input id="name" name="name" value="Dana">
  <label for="bio">About you</label><textarea id="bio" name="bio">old bio</textarea>
  <select name="theme"><option value="light">Light</option>
    <option value="dark" selected>Dark</option></select>
  <input type="radio" name="plan" value="plus" checked><input type="radio" name="plan" value="pro">
  <input type="checkbox" name="news" value="yes">
  <input type="text" name="locked" value="fixed" readonly>
  <input type="text" name="off" value="x" disabled>
  <button type="submit" name="action" value="save">Save  changes</button>
  <input type="submit" name="action" value="Delete">
  <button type="button">Preview</button>
</form>
<form id="search" action="/find"><input name="q"><button>Search</button></form>
</body></html>
"""


def _page():  # type: ignore[no-untyped-def]
    return parse_page("http://127.0.0.1:9/settings", 200, [("Content-Type", "text/html")], FORM_PAGE)


def test_a_page_is_read_like_a_person_sees_it() -> None:
    page = _page()
    assert page.title == "Account settings"
    assert "Hello & welcome" in page.text and "Settings" in page.text
    assert "do not show" not in page.text and "color" not in page.text
    assert page.data == {"page": "settings", "error": "none"}
    assert page.link("Get help").href == "http://127.0.0.1:9/help"
    assert [f.id for f in page.forms] == ["profile", "search"]
    profile = page.form("profile")
    assert profile.method == "post" and profile.action == "http://127.0.0.1:9/save"
    assert [b.label for b in profile.buttons] == ["Save changes", "Delete", "Preview"]
    by_name = {f.name: f for f in profile.fields}
    assert by_name["name"].label == "Full name" and by_name["bio"].value == "old bio"
    assert by_name["theme"].options == ("light", "dark") and by_name["theme"].value == "dark"
    assert by_name["csrf_token"].hidden and not by_name["csrf_token"].fillable
    search = page.form(button="Search")
    assert search.method == "get" and search.action == "http://127.0.0.1:9/find"


def test_form_data_follows_the_html_rules() -> None:
    form = _page().form("profile")
    pairs = form.encode(
        {"Full name": "Dana Scully", "plan": "pro", "news": "yes"}, form.button("Save changes")
    )
    assert pairs == [
        ("csrf_token", "tok-1"),
        ("name", "Dana Scully"),
        ("bio", "old bio"),
        ("theme", "dark"),
        ("plan", "pro"),
        ("news", "yes"),
        ("locked", "fixed"),
        ("action", "save"),
    ]
    unchecked = form.encode({}, form.button("Delete"))
    assert (
        ("plan", "plus") in unchecked
        and ("news", "yes") not in unchecked
        and ("action", "Delete") in unchecked
    )


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"csrf_token": "forged"}, FieldNotFillable),
        ({"locked": "changed"}, FieldNotFillable),
        ({"off": "on"}, FieldNotFillable),
        ({"nonexistent": "x"}, ElementNotFound),
        ({"theme": "neon"}, FieldNotFillable),
        ({"plan": "enterprise"}, FieldNotFillable),
    ],
)
def test_only_what_a_person_could_fill_can_be_filled(
    values: dict[str, str], error: type[BrowserError]
) -> None:
    form = _page().form("profile")
    with pytest.raises(error):
        form.encode(values, form.button("Save changes"))


def test_missing_forms_and_buttons_are_typed_errors() -> None:
    page = _page()
    with pytest.raises(ElementNotFound):
        page.form("nope")
    with pytest.raises(ElementNotFound):
        page.form()  # two forms: say which
    with pytest.raises(ElementNotFound):
        page.form("profile").button("Preview")  # not a submit button
    with pytest.raises(ElementNotFound):
        page.link("Nowhere")


@given(st.text(max_size=500))
def test_any_markup_parses_without_raising(html: str) -> None:
    page = parse_page("http://127.0.0.1:9/", 200, [], html)
    assert isinstance(page.title, str) and isinstance(page.forms, tuple)


@given(
    st.lists(
        st.sampled_from(
            [
                "<form>",
                "</form>",
                "<input name=a>",
                "<button>",
                "</button>",
                "<select>",
                "<option>",
                "</select>",
                "<label for=x>",
                "</label>",
                "<textarea>",
                "<a href=/>",
                "x",
                "<title>",
                "</title>",
                "<script>",
                "</script>",
            ]
        ),
        max_size=40,
    )
)
def test_any_tag_soup_parses_without_raising(parts: list[str]) -> None:
    page = parse_page("http://127.0.0.1:9/", 200, [], "".join(parts))
    for form in page.forms:
        assert form.action.startswith("http://127.0.0.1:9/")


# -- over real sockets ---------------------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _site_app() -> web.Application:
    async def home(request: web.Request) -> web.Response:
        response = web.Response(text=FORM_PAGE, content_type="text/html")
        response.set_cookie("sid", "cookie-1", httponly=True)
        return response

    async def save(request: web.Request) -> web.Response:
        form = await request.post()
        if request.cookies.get("sid") != "cookie-1":
            return web.Response(status=403, text="<title>No cookie</title>", content_type="text/html")
        raise web.HTTPSeeOther(f"/done?name={form['name']}&action={form['action']}")

    async def done(request: web.Request) -> web.Response:
        return web.Response(
            text=f"<title>Saved</title><p>{request.query['name']} / {request.query['action']}</p>",
            content_type="text/html",
        )

    async def find(request: web.Request) -> web.Response:
        return web.Response(text=f"<title>Results for {request.query['q']}</title>", content_type="text/html")

    async def to_app(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "com.openai.chat://cb?code=c1&state=s1"})

    async def to_callback(request: web.Request) -> web.Response:
        raise web.HTTPFound("/callback?code=c2")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def keep_post(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/echo")

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        return web.Response(text=f"<title>{request.method} {body}</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_post("/save", save)
    app.router.add_get("/done", done)
    app.router.add_get("/find", find)
    app.router.add_get("/to-app", to_app)
    app.router.add_get("/to-callback", to_callback)
    app.router.add_get("/loop", loop)
    app.router.add_post("/keep-post", keep_post)
    app.router.add_route("*", "/echo", echo)
    return app


@pytest.fixture
async def site() -> AsyncIterator[str]:
    runner = web.AppRunner(await _site_app())
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_cookies_forms_and_see_other(site: str) -> None:
    async with Browser() as browser:
        page = (await browser.open(site + "/")).expect_page()
        done = (await browser.press(page, "Save changes", {"name": "Fox"})).expect_page()
        assert done.title == "Saved" and "Fox / save" in done.text
        assert [(e.method, e.status) for e in browser.history] == [("GET", 200), ("POST", 303), ("GET", 200)]
        post = browser.history[1]
        assert ("cookie", "sid=cookie-1") in post.request_headers
        assert ("content-type", "application/x-www-form-urlencoded") in post.request_headers
        assert ("origin", site) in post.request_headers
        assert b"csrf_token=tok-1" in post.request_body and b"name=Fox" in post.request_body
        assert any(k == "set-cookie" for k, _ in browser.history[0].response_headers)


async def test_get_forms_put_fields_in_the_query(site: str) -> None:
    async with Browser() as browser:
        page = (await browser.open(site + "/")).expect_page()
        results = (await browser.press(page, "Search", {"q": "two words"})).expect_page()
        assert results.title == "Results for two words"
        assert browser.history[-1].url == site + "/find?q=two+words"


async def test_custom_schemes_are_never_followed(site: str) -> None:
    async with Browser() as browser:
        stopped = (await browser.open(site + "/to-app")).expect_interception()
        assert stopped.scheme == "com.openai.chat"
        assert stopped.params == {"code": "c1", "state": "s1"}
        assert stopped.from_url == site + "/to-app" and stopped.status == 302
        with pytest.raises(BrowserError):
            stopped.expect_page()


async def test_intercepted_prefixes_stop_the_browser(site: str) -> None:
    async with Browser(intercept=[site + "/callback"]) as browser:
        stopped = (await browser.open(site + "/to-callback")).expect_interception()
        assert stopped.params == {"code": "c2"}
        assert len(browser.history) == 1  # the callback itself was never requested


async def test_307_keeps_the_method_and_body(site: str) -> None:
    async with Browser() as browser:
        page = parse_page(
            site + "/form",
            200,
            [],
            '<form id="f" method="post" action="/keep-post"><input name="a" value="1">'
            "<button>Go</button></form>",
        )
        landed = (await browser.press(page, "Go")).expect_page()
        assert landed.title == "POST a=1"


async def test_redirect_loops_end_in_a_typed_error(site: str) -> None:
    async with Browser(max_redirects=3) as browser:
        with pytest.raises(TooManyRedirects):
            await browser.open(site + "/loop")
        assert len(browser.history) == 4


async def test_links_are_followed(site: str) -> None:
    async with Browser() as browser:
        page = parse_page(site + "/", 200, [], '<a href="/find?q=x">Find x</a>')
        assert (await browser.follow(page, "Find x")).expect_page().title == "Results for x"


async def test_a_dead_server_is_a_navigation_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Browser(timeout=5) as browser:
        with pytest.raises(NavigationFailed) as caught:
            await browser.open(f"http://127.0.0.1:{port}/secret?code=abc")
        assert "code=abc" not in str(caught.value)
