"""The local web app (``learnplace serve``): search, profile editing with a preview, source health.

It only reads the store (read-only SQLite connections, which never block a
running ``learnplace run`` in WAL mode) and the index (Whoosh readers see the
last commit), and writes nothing but profile files, through
:mod:`aggregator.profile_edit`.

Security, in request order:

* a token, when one is set (any non-loopback bind needs one): ``Authorization:
  Bearer``, or the cookie that ``/login?token=…`` sets; checked on every request;
* forms carry a per-session CSRF token (double submit: cookie + field) and
  must come from this origin (``Origin``/``Referer``); cookies are SameSite=Strict;
* profile names in URLs must match :data:`config.PROFILE_NAME` and resolve
  inside ``profiles/``.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from aggregator import pipeline
from aggregator.errors import ConfigError
from aggregator.index import QuerySyntaxError, SearchFilters, highlight, plain_text
from aggregator.models import ITEM_TYPES, Digest, Profile
from aggregator.render import make_environment, packaged_templates_dir

TOKEN_COOKIE = "learnplace_token"  # noqa: S105 (a cookie name, not a secret)
CSRF_COOKIE = "learnplace_csrf"
PAGE_SIZE = 20
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' https: http: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_LINE = re.compile(r"^\s*(?P<phrase>[^=]+?)\s*=\s*(?P<weight>\S+)\s*$")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the app on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class InsecureBindError(ValueError):
    """Serving beyond loopback without a token would hand profiles to the network."""


def create_app(
    project: pipeline.Project, *, host: str = "127.0.0.1", token: str | None = None
) -> Starlette:
    """The ASGI app for ``project``; refuses a non-loopback ``host`` without a ``token``."""
    if not is_loopback(host) and not token:
        raise InsecureBindError(
            f"serving on {host} needs an access token: pass --token or set LEARNPLACE_TOKEN"
        )
    env = make_environment([project.templates_dir])
    web = _Web(project, env)
    routes = [
        Route("/", web.home),
        Route("/login", web.login),
        Route("/search", web.search),
        Route("/items/{item_id:int}", web.item),
        Route("/profiles/{name}", web.profile, methods=["GET", "POST"]),
        Route("/profiles/{name}/preview", web.preview, methods=["POST"]),
        Route("/sources", web.sources),
        Mount("/static", StaticFiles(directory=packaged_templates_dir() / "web" / "static")),
        Mount("/site", StaticFiles(directory=project.output_dir, html=True, check_dir=False)),
    ]
    return Starlette(
        routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=_guard(token))]
    )


def _guard(token: str | None) -> Callable[..., Awaitable[Response]]:
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            given = given or request.cookies.get(TOKEN_COOKIE, "")
            if request.url.path == "/login":
                given = given or request.query_params.get("token", "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return PlainTextResponse("an access token is required", status_code=401)
        if request.method == "POST" and not _same_origin(request):
            return PlainTextResponse("cross-site request refused", status_code=403)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if CSRF_COOKIE not in request.cookies:
            response.set_cookie(CSRF_COOKIE, _csrf(request), httponly=True, samesite="strict")
        return response

    return guard


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST came from; it must be one of ours."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        return False
    parts = urlsplit(claimed)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.url.scheme}://{request.url.netloc}"


def _csrf(request: Request) -> str:
    """This session's CSRF token, made once per browser and kept in a cookie."""
    if "csrf" not in request.scope.setdefault("state", {}):
        request.scope["state"]["csrf"] = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(
            24
        )
    return str(request.scope["state"]["csrf"])


def _csrf_ok(request: Request, form: FormData) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    field = str(form.get("csrf", ""))
    return bool(cookie) and hmac.compare_digest(cookie.encode(), field.encode())


def _parse_day(value: str, *, end: bool) -> datetime | None:
    if not value:
        return None
    day = date.fromisoformat(value)
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


class _Web:
    def __init__(self, project: pipeline.Project, env: jinja2.Environment) -> None:
        self.project = project
        self.env = env

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(template).render(
            csrf=_csrf(request),
            marked=highlight,
            plain_text=plain_text,
            people=self._people(),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def _people(self) -> list[str]:
        return sorted(path.stem for path in self.project.profiles_dir.glob("*.toml"))

    async def home(self, request: Request) -> Response:
        has_site = (self.project.output_dir / "index.html").is_file()
        return self.page(request, "web/home.html", has_site=has_site)

    async def login(self, request: Request) -> Response:
        """Reached only with the right token (the guard checked it): keep it in a cookie."""
        response = RedirectResponse("/", status_code=303)
        token = request.query_params.get("token")
        if token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    def search(self, request: Request) -> Response:
        params = request.query_params
        text = params.get("q", "")
        errors: list[str] = []
        try:
            since = _parse_day(params.get("since", ""), end=False)
            until = _parse_day(params.get("until", ""), end=True)
        except ValueError:
            since = until = None
            errors.append("dates look like 2026-11-30")
        filters = SearchFilters(
            types=tuple(v for v in params.getlist("type") if v),
            sources=tuple(v for v in params.getlist("source") if v),
            tags=tuple(v for v in params.getlist("tag") if v),
            since=since,
            until=until,
        )
        page = max(1, int(params["page"])) if params.get("page", "").isdigit() else 1
        sort = params.get("sort") if params.get("sort") in ("relevance", "date") else "relevance"
        person = params.get("profile", "")
        found = None
        empty = None
        try:
            profile = pipeline.load_named_profile(self.project, person) if person else None
            if (text.strip() or filters) and not errors:
                request_ = pipeline.SearchRequest(
                    text, filters, sort, PAGE_SIZE, (page - 1) * PAGE_SIZE, profile
                )
                found = pipeline.search(self.project, request_, now=datetime.now(UTC))
        except (QuerySyntaxError, ConfigError) as exc:
            errors.append(str(exc))
        except pipeline.NothingCollectedError as exc:
            empty = str(exc)
        base = [(k, v) for k, v in params.multi_items() if k != "page"]

        def link(**changes: str) -> str:
            pairs = [(k, v) for k, v in base if k not in changes] + list(changes.items())
            return "/search?" + urlencode([(k, v) for k, v in pairs if v])

        pages = -(-found.total // PAGE_SIZE) if found else 0
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

    def item(self, request: Request) -> Response:
        item_id = request.path_params["item_id"]
        found = pipeline.item(self.project, item_id)
        if found is None:
            return PlainTextResponse("no such item", status_code=404)
        return self.page(request, "web/item.html", item=found)

    def _profile_file(self, request: Request) -> Path | None:
        try:
            return pipeline.profile_path(self.project, request.path_params["name"])
        except ConfigError:
            return None

    async def profile(self, request: Request) -> Response:
        """The form; a POST saves it, or shows each error by its field and saves nothing."""
        path = self._profile_file(request)
        if path is None:
            return PlainTextResponse("no such profile", status_code=404)
        errors: dict[str, str] = {}
        form: FormData | None = None
        if request.method == "POST":
            form = await request.form()
            if not _csrf_ok(request, form):
                return PlainTextResponse("missing or wrong CSRF token", status_code=403)
            changes, errors = form_changes(form)
            if not errors:
                try:
                    pipeline.save_profile_changes(path, changes)
                except ConfigError as exc:
                    errors[_field_of(exc.key)] = exc.message
        if errors and form is not None:
            values, digest = _form_values(form), None
        else:
            profile = pipeline.load_named_profile(self.project, path.stem)
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
        if not self.project.store_path.exists():
            return None
        return pipeline.preview_unsaved(self.project, profile, datetime.now(UTC))

    async def preview(self, request: Request) -> Response:
        """The digest the unsaved form would get: HTML for the page's preview panel."""
        path = self._profile_file(request)
        if path is None:
            return PlainTextResponse("no such profile", status_code=404)
        form = await request.form()
        if not _csrf_ok(request, form):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        changes, errors = form_changes(form)
        digest = None
        if not errors:
            try:
                profile = pipeline.draft_profile(path, changes)
                digest = self._preview(profile)
            except ConfigError as exc:
                errors[_field_of(exc.key)] = exc.message
        html = self.env.get_template("web/preview.html").render(digest=digest, errors=errors)
        return HTMLResponse(html, status_code=400 if errors else 200)

    def sources(self, request: Request) -> Response:
        statuses = (
            pipeline.source_statuses(self.project) if self.project.store_path.exists() else []
        )
        return self.page(request, "web/sources.html", statuses=statuses)


def _field_of(key: str) -> str:
    """The form field a profile key is edited in."""
    head = key.split(".", 1)[0]
    if head == "exclude":
        return "exclude_sources" if key.endswith("sources") else "exclude_words"
    return head or "interests"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


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
    for line in _lines(str(form.get("interests", ""))):
        match = _LINE.match(line)
        try:
            if match is None:
                raise ValueError
            interests[match["phrase"].strip("\"' ")] = float(match["weight"])
        except ValueError:
            errors["interests"] = f"write one interest a line as: phrase = weight (got {line!r})"
            break
    changes["interests"] = interests
    types: dict[str, float] = {}
    for kind in ITEM_TYPES:
        raw = str(form.get(f"type_{kind}", "")).strip()
        if raw:
            try:
                weight = float(raw)
            except ValueError:
                errors["types"] = f"{kind}: a number, not {raw!r}"
                continue
            if weight != 1:
                types[kind] = weight
    changes["types"] = types
    changes["exclude_words"] = _lines(str(form.get("exclude_words", "")))
    changes["exclude_sources"] = _lines(str(form.get("exclude_sources", "")))
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
