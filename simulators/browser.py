"""A scripted browser: real HTTP over httpx, cookies kept, forms read from HTML and submitted like a person.

There is no shortcut past the HTML. A script opens a URL, reads the page (`title`, `text`, `forms`), fills the
*visible* fields a person could type into and presses a button by its label; hidden fields travel as the page
set them. Redirects are followed by hand so the browser can stop at a redirect it must not follow: any
non-http(s) scheme (an app's custom scheme such as `com.openai.chat://…`) and any URL prefix it was told to
intercept (say a loopback OAuth callback). Every request and response is recorded, headers included, for
traces; whoever writes a trace applies redaction.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from simulators.protocol.errors import PairsimError, ProtocolError

DEFAULT_USER_AGENT = "Mozilla/5.0 (pairsim scripted browser)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TEXT_INPUT_TYPES = frozenset({"text", "email", "password", "number", "tel", "search", "url", "date", ""})
_BUTTON_INPUT_TYPES = frozenset({"submit", "image"})
_INVISIBLE_TAGS = frozenset({"script", "style", "title", "template", "head", "noscript"})


class BrowserError(ProtocolError):
    """The page did not offer what the script tried to do (no such form, field or button)."""


class ElementNotFound(BrowserError):
    pass


class FieldNotFillable(BrowserError):
    pass


class TooManyRedirects(BrowserError):
    pass


class NavigationFailed(PairsimError):
    """The network failed under the browser (refused, reset, timed out)."""


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one costs a tenth of a second, and scenarios open many
    browsers."""
    return httpx.create_ssl_context()


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# ------------------------------------------------------------------------------------------------------------
# Page model


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    value: str
    label: str = ""
    id: str = ""
    options: tuple[str, ...] = ()
    checked: bool = False
    disabled: bool = False
    readonly: bool = False

    @property
    def hidden(self) -> bool:
        return self.type == "hidden"

    @property
    def fillable(self) -> bool:
        return not (self.hidden or self.disabled or self.readonly)


@dataclass(frozen=True)
class Button:
    label: str
    name: str = ""
    value: str = ""
    type: str = "submit"
    disabled: bool = False


@dataclass(frozen=True)
class Form:
    id: str
    action: str
    method: str
    fields: tuple[FormField, ...]
    buttons: tuple[Button, ...]

    def button(self, label: str) -> Button:
        wanted = " ".join(label.split()).casefold()
        for button in self.buttons:
            if button.label.casefold() == wanted and button.type == "submit" and not button.disabled:
                return button
        raise ElementNotFound(f"form {self.id or '(no id)'} has no button labelled {label!r}")

    def has_button(self, label: str) -> bool:
        try:
            self.button(label)
        except ElementNotFound:
            return False
        return True

    @property
    def visible_fields(self) -> tuple[FormField, ...]:
        return tuple(f for f in self.fields if not f.hidden)

    def _field_for(self, key: str) -> list[FormField]:
        by_name = [f for f in self.fields if f.name == key]
        if by_name:
            return by_name
        wanted = " ".join(key.split()).casefold()
        return [f for f in self.fields if f.label and f.label.casefold() == wanted]

    def encode(self, values: Mapping[str, str], button: Button) -> list[tuple[str, str]]:
        """The name/value pairs a browser sends (HTML's form data set), after checking every filled field is
        one a person could fill."""
        filled: dict[str, str] = {}
        for key, value in values.items():
            matches = self._field_for(key)
            if not matches:
                raise ElementNotFound(f"form {self.id or '(no id)'} has no field {key!r}")
            target = matches[0]
            if not target.fillable:
                raise FieldNotFillable(f"field {target.name!r} is hidden, disabled or read-only")
            if (
                target.type in ("radio", "select")
                and value not in target.options
                and not any(m.value == value for m in matches)
            ):
                raise FieldNotFillable(f"field {target.name!r} has no option {value!r}")
            filled[target.name] = value
        pairs: list[tuple[str, str]] = []
        for f in self.fields:
            if f.disabled or not f.name:
                continue
            if f.type in ("checkbox", "radio"):
                if f.name in filled:
                    chosen = filled[f.name]
                    if (f.type == "radio" and chosen == f.value) or (f.type == "checkbox" and chosen):
                        pairs.append((f.name, f.value))
                elif f.checked:
                    pairs.append((f.name, f.value))
                continue
            pairs.append((f.name, filled.get(f.name, f.value)))
        if button.name:
            pairs.append((button.name, button.value))
        return pairs


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    html: str
    title: str
    text: str
    forms: tuple[Form, ...]
    links: tuple[Link, ...]
    data: Mapping[str, str] = field(default_factory=dict)

    def form(self, form_id: str | None = None, *, button: str | None = None) -> Form:
        """A form by id, or the one holding a button with this label (or the only form)."""
        candidates = [f for f in self.forms if form_id is None or f.id == form_id]
        if button is not None:
            candidates = [f for f in candidates if f.has_button(button)]
        if len(candidates) == 1 or (candidates and form_id is not None):
            return candidates[0]
        what = f"id {form_id!r}" if form_id else f"button {button!r}" if button else "a single form"
        raise ElementNotFound(f"page {self.title!r} has no form with {what}")

    def link(self, text: str) -> Link:
        wanted = " ".join(text.split()).casefold()
        for link in self.links:
            if link.text.casefold() == wanted:
                return link
        raise ElementNotFound(f"page {self.title!r} has no link {text!r}")

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def expect_page(self) -> Page:
        return self

    def expect_interception(self) -> Interception:
        raise BrowserError(f"expected a redirect to be intercepted, but landed on page {self.title!r}")


@dataclass(frozen=True)
class Interception:
    """A redirect the browser did not follow: to a custom scheme or an intercepted URL prefix."""

    url: str
    status: int
    from_url: str

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def expect_page(self) -> Page:
        raise BrowserError(
            f"expected a page, but the browser stopped at a redirect to {_without_query(self.url)}"
        )

    def expect_interception(self) -> Interception:
        return self


Navigation = Page | Interception


@dataclass(frozen=True)
class Exchange:
    """One HTTP round trip as the browser made it."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: bytes
    status: int
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes


# ------------------------------------------------------------------------------------------------------------
# HTML parsing


@dataclass
class _FormBuilder:
    id: str
    action: str
    method: str
    fields: list[FormField] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.text_parts: list[str] = []
        self.forms: list[_FormBuilder] = []
        self.links: list[tuple[str, list[str]]] = []
        self.labels: dict[str, list[str]] = {}
        self.body_data: dict[str, str] = {}
        self._form: _FormBuilder | None = None
        self._invisible_depth = 0
        self._in_title = False
        self._button: tuple[dict[str, str], list[str]] | None = None
        self._select: tuple[dict[str, str], list[tuple[str, bool]]] | None = None
        self._option: tuple[dict[str, str], list[str]] | None = None
        self._textarea: tuple[dict[str, str], list[str]] | None = None
        self._label: list[str] | None = None
        self._label_for = ""
        self._link: list[str] | None = None

    @staticmethod
    def _attrs(attrs: list[tuple[str, str | None]]) -> dict[str, str]:
        return {name.lower(): (value if value is not None else "") for name, value in attrs}

    def handle_starttag(self, tag: str, raw_attrs: list[tuple[str, str | None]]) -> None:
        attrs = self._attrs(raw_attrs)
        if tag in _INVISIBLE_TAGS:
            self._invisible_depth += 1
            self._in_title = self._in_title or tag == "title"
        elif tag == "body":
            self.body_data = {k[5:]: v for k, v in attrs.items() if k.startswith("data-")}
        elif tag == "form":
            self._form = _FormBuilder(
                attrs.get("id", ""), attrs.get("action", ""), attrs.get("method", "get")
            )
            self.forms.append(self._form)
        elif tag == "input":
            self._input(attrs)
        elif tag == "button":
            self._button = (attrs, [])
        elif tag == "select":
            self._select = (attrs, [])
        elif tag == "option" and self._select is not None:
            self._option = (attrs, [])
        elif tag == "textarea":
            self._textarea = (attrs, [])
        elif tag == "label":
            self._label = []
            self._label_for = attrs.get("for", "")
        elif tag == "a" and "href" in attrs:
            self._link = []
            self.links.append((attrs["href"], self._link))
        elif tag in ("br", "p", "div", "li", "h1", "h2", "h3", "tr"):
            self.text_parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("input", "br"):
            self.handle_endtag(tag)

    def _input(self, attrs: dict[str, str]) -> None:
        if self._form is None:
            return
        kind = attrs.get("type", "text").lower()
        if kind in _BUTTON_INPUT_TYPES:
            self._form.buttons.append(
                Button(
                    label=" ".join(attrs.get("value", "Submit").split()),
                    name=attrs.get("name", ""),
                    value=attrs.get("value", ""),
                    disabled="disabled" in attrs,
                )
            )
            return
        if kind in ("button", "reset", "file"):
            return
        default = "on" if kind in ("checkbox", "radio") else ""
        self._form.fields.append(
            FormField(
                name=attrs.get("name", ""),
                type=kind if kind in _TEXT_INPUT_TYPES | {"hidden", "checkbox", "radio"} else "text",
                value=attrs.get("value", default),
                id=attrs.get("id", ""),
                checked="checked" in attrs,
                disabled="disabled" in attrs,
                readonly="readonly" in attrs,
            )
        )

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._invisible_depth = max(0, self._invisible_depth - 1)
            if tag == "title":
                self._in_title = False
        elif tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None:
            attrs, parts = self._button
            self._button = None
            if self._form is not None:
                self._form.buttons.append(
                    Button(
                        label=" ".join("".join(parts).split()),
                        name=attrs.get("name", ""),
                        value=attrs.get("value", ""),
                        type=attrs.get("type", "submit").lower(),
                        disabled="disabled" in attrs,
                    )
                )
        elif tag == "option" and self._option is not None and self._select is not None:
            attrs, parts = self._option
            self._option = None
            text = " ".join("".join(parts).split())
            self._select[1].append((attrs.get("value", text), "selected" in attrs))
        elif tag == "select" and self._select is not None:
            attrs, options = self._select
            self._select = None
            if self._form is not None:
                chosen = next((v for v, selected in options if selected), options[0][0] if options else "")
                self._form.fields.append(
                    FormField(
                        name=attrs.get("name", ""),
                        type="select",
                        value=chosen,
                        id=attrs.get("id", ""),
                        options=tuple(v for v, _ in options),
                        disabled="disabled" in attrs,
                    )
                )
        elif tag == "textarea" and self._textarea is not None:
            attrs, parts = self._textarea
            self._textarea = None
            if self._form is not None:
                self._form.fields.append(
                    FormField(
                        name=attrs.get("name", ""),
                        type="textarea",
                        value="".join(parts),
                        id=attrs.get("id", ""),
                        disabled="disabled" in attrs,
                        readonly="readonly" in attrs,
                    )
                )
        elif tag == "label" and self._label is not None:
            if self._label_for:
                self.labels[self._label_for] = self._label
            self._label = None
        elif tag == "a":
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
            return
        if self._invisible_depth:
            return
        self.text_parts.append(data)
        for sink in (self._button, self._option, self._textarea):
            if sink is not None:
                sink[1].append(data)
        if self._label is not None:
            self._label.append(data)
        if self._link is not None:
            self._link.append(data)


def parse_page(url: str, status: int, headers: Iterable[tuple[str, str]], html: str) -> Page:
    """Read a page the way the scripted browser sees it. Tolerates any markup; never raises on bad HTML."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    forms = []
    for builder in parser.forms:
        labelled = tuple(
            replace(f, label=" ".join("".join(parser.labels.get(f.id, [])).split())) if f.id else f
            for f in builder.fields
        )
        forms.append(
            Form(
                id=builder.id,
                action=urldefrag(urljoin(url, builder.action or url))[0],
                method=builder.method.lower() if builder.method.lower() in ("get", "post") else "get",
                fields=labelled,
                buttons=tuple(builder.buttons),
            )
        )
    text_lines = (" ".join(line.split()) for line in "".join(parser.text_parts).split("\n"))
    return Page(
        url=url,
        status=status,
        headers=tuple(headers),
        html=html,
        title=" ".join("".join(parser.title_parts).split()),
        text="\n".join(line for line in text_lines if line),
        forms=tuple(forms),
        links=tuple(Link(" ".join("".join(t).split()), urljoin(url, href)) for href, t in parser.links),
        data=dict(parser.body_data),
    )


# ------------------------------------------------------------------------------------------------------------
# The browser


class Browser:
    """One browser profile: a cookie jar, a history of exchanges, and rules for which redirects to stop at."""

    def __init__(
        self,
        *,
        intercept: Iterable[str] = (),
        max_redirects: int = 10,
        timeout: float = 10.0,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.intercept_prefixes: list[str] = list(intercept)
        self.max_redirects = max_redirects
        self.history: list[Exchange] = []
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=timeout,
            headers={"User-Agent": user_agent, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
            transport=transport,
            verify=shared_ssl_context(),
        )

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    def end_session(self) -> None:
        """Drop the cookies that live only as long as the browser runs (as when the app holding it is closed);
        cookies with an expiry, such as a remembered device, stay."""
        self._client.cookies.jar.clear_session_cookies()

    def intercept(self, url_prefix: str) -> None:
        """Stop at redirects to URLs starting with this prefix instead of following them."""
        self.intercept_prefixes.append(url_prefix)

    def _stops_at(self, url: str) -> bool:
        scheme = urlsplit(url).scheme.lower()
        return scheme not in ("http", "https") or any(url.startswith(p) for p in self.intercept_prefixes)

    async def open(self, url: str) -> Navigation:
        if self._stops_at(url):
            return Interception(url=url, status=0, from_url="")
        return await self._navigate("GET", url, None, {})

    async def submit(
        self,
        form: Form,
        fields: Mapping[str, str] | None = None,
        *,
        button: str | None = None,
        referer: str = "",
    ) -> Navigation:
        """Fill `fields` (by name or label; visible fields only) and press `button` (by label)."""
        if button is None:
            submit_buttons = [b for b in form.buttons if b.type == "submit"]
            if len(submit_buttons) != 1:
                raise ElementNotFound(
                    f"form {form.id or '(no id)'} has {len(submit_buttons)} buttons; name one"
                )
            pressed = submit_buttons[0]
        else:
            pressed = form.button(button)
        pairs = form.encode(fields or {}, pressed)
        headers = {"Referer": referer} if referer else {}
        if form.method == "post":
            origin = urlsplit(form.action)
            headers["Origin"] = f"{origin.scheme}://{origin.netloc}"
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(pairs).encode("ascii")
            return await self._navigate("POST", form.action, body, headers)
        action = urlsplit(form.action)
        query = urlencode(pairs)
        return await self._navigate("GET", urlunsplit((*action[:3], query, "")), None, headers)

    async def press(
        self, page: Page, button: str, fields: Mapping[str, str] | None = None, *, form_id: str | None = None
    ) -> Navigation:
        """Press the button labelled `button` on `page`, after filling `fields` in its form."""
        form = page.form(form_id, button=button)
        return await self.submit(form, fields, button=button, referer=page.url)

    async def follow(self, page: Page, link_text: str) -> Navigation:
        link = page.link(link_text)
        if self._stops_at(link.href):
            return Interception(url=link.href, status=0, from_url=page.url)
        return await self._navigate("GET", link.href, None, {"Referer": page.url})

    async def _navigate(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> Navigation:
        for _ in range(self.max_redirects + 1):
            response = await self._send(method, url, body, headers)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or location is None:
                return parse_page(
                    str(response.url), response.status_code, response.headers.multi_items(), response.text
                )
            target = urljoin(url, location)
            if self._stops_at(target):
                return Interception(url=target, status=response.status_code, from_url=url)
            if response.status_code in (301, 302, 303):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k not in ("Content-Type", "Origin")}
            url = target
        raise TooManyRedirects(f"more than {self.max_redirects} redirects, last to {_without_query(url)}")

    async def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        request = self._client.build_request(method, url, content=body, headers=headers)
        try:
            response = await self._client.send(request)
        except httpx.TransportError as exc:
            raise NavigationFailed(f"could not load {_without_query(url)}: {type(exc).__name__}") from exc
        await response.aread()
        self.history.append(
            Exchange(
                method=method,
                url=url,
                request_headers=tuple(request.headers.multi_items()),
                request_body=body or b"",
                status=response.status_code,
                response_headers=tuple(response.headers.multi_items()),
                response_body=response.content,
            )
        )
        return response

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
