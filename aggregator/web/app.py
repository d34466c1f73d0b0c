"""The local web app (``learnplace serve``): search, profile editing with a preview, source health.

It calls only the :class:`~aggregator.app.Application` it is given, which keeps
the store (read-only SQLite connections, which never block a running
``learnplace run`` in WAL mode) and the index (whose readers see each new
commit) open for the app's lifetime; it writes nothing but profile files.

Security, in request order (:mod:`aggregator.web.guard` does the first three):

* the ``Host`` header must name this app (loopback names, the bound address, and
  ``--allowed-host`` names): a page of another site whose name was rebound to
  127.0.0.1 (DNS rebinding) gets a 400, not the app;
* a token, when one is set (any non-loopback bind needs one): ``Authorization:
  Bearer``, or the session cookie that ``/login?token=…`` sets (signed, never the
  token itself, ``Secure`` over https); checked on every request;
* forms carry a CSRF token derived from the session, and must come from an
  allowed origin (``Origin``/``Referer``); cookies are SameSite=Strict;
* forms are at most 64 KB, and the work a request causes
  (search, preview, save) runs in worker threads, at most :data:`CPU_SLOTS` at a
  time, so the event loop keeps answering;
* profile names in URLs must match :data:`aggregator.models.PROFILE_NAME` and resolve
  inside ``profiles/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from aggregator.app import (
    MAX_ENTRIES,
    SEARCH_LIMIT_MAX,
    Application,
    SearchFilters,
    SearchRequest,
    highlight,
    is_loopback,
    item_type,
    make_environment,
    packaged_templates_dir,
    plain_text,
)
from aggregator.errors import (
    ConfigError,
    FormError,
    InsecureBindError,
    NothingCollectedError,
    QuerySyntaxError,
    UnknownNameError,
)
from aggregator.models import ITEM_TYPES, Digest, Item, Profile
from aggregator.web.actions import Actions, page_context, status_word, when_at
from aggregator.web.guard import (
    Sessions,
    allowed_hosts,
    csrf,
    csrf_ok,
    guard,
    read_form,
)
from aggregator.web.learning import LearningPages

PAGE_SIZE = 20
MAX_PAGE = SEARCH_LIMIT_MAX // PAGE_SIZE
"""Search reads at most SEARCH_LIMIT_MAX results, so pages end there."""
MAX_LINE_CHARS = 300
"""One line of the interests field; a phrase longer than that is no interest."""
CPU_SLOTS = 2
"""Requests that search or rank at once; more wait their turn off the event loop."""
STATIC = packaged_templates_dir() / "web" / "static"
"""The app's own stylesheets and script, served under /static/."""
_PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,3}")
_ITEM_ID = re.compile(r"[0-9]{1,18}")


def create_app(
    app: Application,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    extra_hosts: Iterable[str] = (),
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The ASGI app over ``app`` (kept open by the caller).

    ``clock`` is what "now" is for every request (tests pass their own time).

    A non-loopback ``host`` without a ``token`` is refused.

    ``extra_hosts`` are more names the app answers to (a reverse proxy's, say).
    """
    if not is_loopback(host) and not token:
        raise InsecureBindError(
            f"serving on {host} needs an access token: pass --token or set LEARNPLACE_TOKEN"
        )
    env = make_environment([app.project.templates_dir])
    web = _Web(app, env, clock or (lambda: datetime.now(UTC)))
    actions = Actions(web)
    learning = LearningPages(web)
    hosts = allowed_hosts(host, extra_hosts)
    sessions = Sessions(token, app.session_key())
    routes = [
        Route("/people/{name}", actions.person),
        Route("/people/{name}/feedback", actions.feedback, methods=["POST"]),
        Route("/people/{name}/share", actions.share, methods=["POST"]),
        Route("/sources/{action}", actions.sources_action, methods=["POST"]),
        *learning.routes(),
        Route("/", web.home),
        Route("/login", web.login),
        Route("/search", web.search),
        Route("/items/{item_id}", web.item),
        Route("/profiles/{name}", web.profile, methods=["GET", "POST"]),
        Route("/profiles/{name}/preview", web.preview, methods=["POST"]),
        Route("/sources", web.sources),
        Route("/site/in-app.css", web.in_app_stylesheet),
        Mount("/static", StaticFiles(directory=STATIC)),
        Mount("/site", StaticFiles(directory=app.project.output_dir, html=True, check_dir=False)),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        """Close what the application opened for this server's requests when it stops."""
        try:
            yield
        finally:
            app.close()

    return Starlette(
        routes=routes,
        exception_handlers={404: web.not_found, 405: web.not_found},
        lifespan=lifespan,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False),
            Middleware(BaseHTTPMiddleware, dispatch=guard(sessions, hosts)),
        ],
    )


def _parse_day(value: str, *, end: bool) -> datetime | None:
    if not value:
        return None
    day = date.fromisoformat(value)
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


class _Web:
    def __init__(
        self, app: Application, env: jinja2.Environment, clock: Callable[[], datetime]
    ) -> None:
        self.app = app
        self.now = clock
        self.project = app.project
        self.env = env
        self._slots = asyncio.Semaphore(CPU_SLOTS)

    async def _work(self, function: Callable[..., Response], *args: Any) -> Response:
        """Run ``function`` in a worker thread, at most :data:`CPU_SLOTS` at once.

        Searching and ranking are pure Python: run on the event loop, a 2,000-interest
        preview held every other request for seconds.
        """
        async with self._slots:
            return await run_in_threadpool(function, *args)

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(template).render(
            csrf=csrf(request),
            marked=highlight,
            plain_text=plain_text,
            when=item_when,
            labels=FIELD_LABELS,
            people=self._people(),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, status: int, message: str) -> Response:
        """An error as a page of the app (with its navigation), never bare text."""
        heading = {403: "Not allowed", 404: "Not found", 413: "Too large"}.get(status, "Error")
        return self.page(request, "web/error.html", status, heading=heading, message=message)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.error(request, 404, f"There is no page at {request.url.path}.")

    def _people(self) -> list[str]:
        return self.app.profile_names()

    async def home(self, request: Request) -> Response:
        has_site = (self.project.output_dir / "index.html").is_file()
        return self.page(request, "web/home.html", has_site=has_site)

    async def in_app_stylesheet(self, request: Request) -> Response:
        """The digest pages under /site/ read in the app show what works only here."""
        return FileResponse(STATIC / "in-app.css", media_type="text/css")

    async def login(self, request: Request) -> Response:
        """Reached only with the right token (the guard checked it and set the session)."""
        return RedirectResponse("/", status_code=303)

    async def search(self, request: Request) -> Response:
        return await self._work(self._search, request)

    def _search(self, request: Request) -> Response:
        params = request.query_params
        text = params.get("q", "")
        errors: list[str] = []
        try:
            since = _parse_day(params.get("since", ""), end=False)
            until = _parse_day(params.get("until", ""), end=True)
        except ValueError:
            since = until = None
            errors.append("dates look like 2026-11-30")
        types: list[str] = []
        for value in (v for v in params.getlist("type") if v):
            try:
                types.append(item_type(value))
            except UnknownNameError as exc:
                errors.append(str(exc))
        filters = SearchFilters(
            types=tuple(types),
            sources=tuple(v for v in params.getlist("source") if v),
            tags=tuple(v for v in params.getlist("tag") if v),
            since=since,
            until=until,
        )
        page = _page_number(params.get("page", ""))
        if page is None:
            page = 1
            errors.append(f"pages are numbered 1 to {MAX_PAGE}")
        sort = params.get("sort") or "relevance"
        if sort not in ("relevance", "date"):
            sort = "relevance"
        person = params.get("profile", "")
        found = None
        empty = None
        try:
            profile = self.app.profile(person) if person else None
            if (text.strip() or filters) and not errors:
                request_ = SearchRequest(
                    text, filters, sort, PAGE_SIZE, (page - 1) * PAGE_SIZE, profile
                )
                found = self.app.search(request_, now=self.now())
        except (QuerySyntaxError, ConfigError, UnknownNameError) as exc:
            errors.append(str(exc))
        except NothingCollectedError as exc:
            empty = str(exc)
        base = [(k, v) for k, v in params.multi_items() if k != "page"]

        def link(**changes: str) -> str:
            pairs = [(k, v) for k, v in base if k not in changes] + list(changes.items())
            return "/search?" + urlencode([(k, v) for k, v in pairs if v])

        pages = min(-(-found.total // PAGE_SIZE), MAX_PAGE) if found else 0
        return self.page(
            request,
            "web/search.html",
            text=text,
            params=params,
            filters=filters,
            found=found,
            errors=errors,
            empty=empty,
            page=page,
            pages=pages,
            link=link,
            sort=sort,
            person=person,
            item_types=ITEM_TYPES,
            status=400 if errors else 200,
        )

    async def item(self, request: Request) -> Response:
        raw = request.path_params["item_id"]
        if not _ITEM_ID.fullmatch(raw):
            return self.error(request, 404, "There is no such item.")
        return await self._work(self._item, request, int(raw))

    def _item(self, request: Request, item_id: int) -> Response:
        found = self.app.item(item_id)
        if found is None:
            return self.error(request, 404, f"There is no item {item_id}.")
        return self.page(request, "web/item.html", item=found)

    def _profile_file(self, request: Request) -> Path | None:
        try:
            return self.app.profile_path(request.path_params["name"])
        except ConfigError:
            return None

    async def _posted(self, request: Request) -> FormData | Response:
        """The request's form if it may be read and carries this session's CSRF token."""
        try:
            form = await read_form(request)
        except FormError as exc:
            return self.error(request, exc.status, str(exc))
        if not csrf_ok(request, form):
            return self.error(
                request, 403, "The form had a missing or wrong CSRF token: reload the page."
            )
        return form

    async def profile(self, request: Request) -> Response:
        """The form; a POST saves it, or shows each error by its field and saves nothing."""
        path = self._profile_file(request)
        if path is None:
            return self.error(request, 404, "There is no such profile.")
        form = None
        if request.method == "POST":
            form = await self._posted(request)
            if isinstance(form, Response):
                return form
        return await self._work(self._profile, request, path, form)

    def _profile(self, request: Request, path: Path, form: FormData | None) -> Response:
        errors: dict[str, str] = {}
        if form is not None:
            changes, errors = form_changes(form)
            if not errors:
                try:
                    self.app.save_profile_changes(path, changes)
                except ConfigError as exc:
                    errors[_field_of(exc.key)] = exc.message
        if errors and form is not None:
            values, digest = _form_values(form), None
        else:
            profile = self.app.profile(path.stem)
            values, digest = _profile_values(profile), self._preview(profile)
        return self.page(
            request,
            "web/profile.html",
            400 if errors else 200,
            name=path.stem,
            values=values,
            errors=errors,
            saved=form is not None and not errors,
            item_types=ITEM_TYPES,
            digest=digest,
        )

    def _preview(self, profile: Profile) -> Digest | None:
        if not self.app.has_collected():
            return None
        return self.app.preview(profile, self.now())

    async def preview(self, request: Request) -> Response:
        """The digest the unsaved form would get: HTML for the page's preview panel."""
        path = self._profile_file(request)
        if path is None:
            return self.error(request, 404, "There is no such profile.")
        form = await self._posted(request)
        if isinstance(form, Response):
            return form
        return await self._work(self._preview_panel, path, form)

    def _preview_panel(self, path: Path, form: FormData) -> Response:
        changes, errors = form_changes(form)
        digest = None
        if not errors:
            try:
                profile = self.app.draft_profile(path, changes)
                digest = self._preview(profile)
            except ConfigError as exc:
                errors[_field_of(exc.key)] = exc.message
        template = self.env.get_template("web/preview.html")
        html = template.render(digest=digest, errors=errors, labels=FIELD_LABELS)
        return HTMLResponse(html, status_code=400 if errors else 200)

    async def sources(self, request: Request) -> Response:
        return await self._work(self._sources, request)

    def _sources(self, request: Request) -> Response:
        statuses = self.app.source_statuses() if self.project.feeds_path.exists() else []
        return self.page(
            request,
            "web/sources.html",
            statuses=statuses,
            status_word=status_word,
            when_at=when_at,
            **page_context(request),
        )


FIELD_LABELS = {
    "interests": "Interests",
    "digest_size": "Digest size",
    "freshness_days": "Freshness (days)",
    "exclude_words": "Never show items mentioning",
    "exclude_sources": "Never show these sources",
    "types": "Type weights",
}


def item_when(item: Item) -> str:
    """An event's own date (when it happens), else the day it was published."""
    start = item.details.event_start
    return f"event on {start.date().isoformat()}" if start else item.published.date().isoformat()


def _page_number(raw: str) -> int | None:
    """A results page asked for in a URL, 1 when none is; None when it is no page there is."""
    if not raw:
        return 1
    return int(raw) if _PAGE_NUMBER.fullmatch(raw) and int(raw) <= MAX_PAGE else None


def _field_of(key: str) -> str:
    """The form field a profile key is edited in."""
    head = key.split(".", 1)[0]
    if head == "exclude":
        return "exclude_sources" if key.endswith("sources") else "exclude_words"
    return head or "interests"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _interest(line: str, interests: dict[str, float]) -> str:
    """Read ``phrase = weight`` into ``interests``; what is wrong with the line, or "".

    Split at the last ``=`` (no regular expression: one of ``a``, 100,000 spaces and
    ``b`` once took a backtracking pattern 11 s).
    """
    if len(line) > MAX_LINE_CHARS:
        return f"a line of {len(line):,} characters: an interest is at most {MAX_LINE_CHARS}"
    phrase, equals, weight = line.rpartition("=")
    phrase = phrase.strip().strip("\"' ")
    try:
        if not (equals and phrase):
            raise ValueError
        interests[phrase] = float(weight.strip())
    except ValueError:
        return f"write one interest a line as: phrase = weight (got {line!r})"
    return ""


def form_changes(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The profile changes a submitted form asks for, and the fields a person must fix."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in ("digest_size", "freshness_days"):
        raw = str(form.get(key, "")).strip()
        if raw:
            try:
                changes[key] = int(raw)
            except ValueError:
                errors[key] = f"a whole number, not {raw!r}"
    interests: dict[str, float] = {}
    lines = _lines(str(form.get("interests", "")))
    if len(lines) > MAX_ENTRIES:  # said before any of them costs a TOML edit
        errors["interests"] = f"{len(lines):,} interests: at most {MAX_ENTRIES}"
        lines = []
    problems = [problem for line in lines if (problem := _interest(line, interests))]
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more lines)" if len(problems) > 5 else ""
        errors["interests"] = shown + more
    changes["interests"] = interests
    types: dict[str, float] = {}
    wrong = []
    for kind in ITEM_TYPES:
        raw = str(form.get(f"type_{kind}", "")).strip()
        if raw:
            try:
                weight = float(raw)
            except ValueError:
                wrong.append(f"{kind}: a number, not {raw!r}")
                continue
            if weight != 1:
                types[kind] = weight
    if wrong:
        errors["types"] = "; ".join(wrong)
    changes["types"] = types
    for key in ("exclude_words", "exclude_sources"):
        changes[key] = _lines(str(form.get(key, "")))
        if len(changes[key]) > MAX_ENTRIES:
            errors[key] = f"{len(changes[key]):,} lines: at most {MAX_ENTRIES}"
    return changes, errors


def _weight(value: float) -> str:
    return f"{value:g}"


def _profile_values(profile: Profile) -> dict[str, str]:
    values = {
        "digest_size": str(profile.digest_size),
        "freshness_days": str(profile.freshness_days),
        "interests": "\n".join(f"{k} = {_weight(v)}" for k, v in profile.interests.items()),
        "exclude_words": "\n".join(profile.exclude),
        "exclude_sources": "\n".join(profile.exclude_sources),
    }
    for kind in ITEM_TYPES:
        values[f"type_{kind}"] = _weight(profile.types.get(kind, 1.0))
    return values


def _form_values(form: FormData) -> dict[str, str]:
    return {key: str(value) for key, value in form.items() if key != "csrf"}
