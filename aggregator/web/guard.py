"""What every request to the web app passes before a page sees it (see :mod:`aggregator.web.app`).

The ``Host`` allowlist (against DNS rebinding), the access token and the signed
session cookie that stands for it, the CSRF token derived from the session, the
same-origin check of form posts against the allowlist, the security headers,
and forms read within a size limit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from aggregator.errors import FormError

SESSION_COOKIE = "learnplace_session"
SESSION_S = 30 * 24 * 3600
"""How long a session cookie is good for; then ``/login?token=…`` again."""
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 64
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""Images only from the app itself: a feed's remote image would tell its server who reads."""


def allowed_hosts(host: str, extra: Iterable[str] = ()) -> list[str]:
    """The names a request's ``Host`` may give: loopback, the bound address, and ``extra``.

    Bound to every address (``0.0.0.0``, ``::``), the app also answers to this
    machine's own names and addresses.
    """
    names = set(LOOPBACK_HOSTS) | {name.strip().lower() for name in extra if name.strip()}
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (recognising a wildcard bind, not making one)
        names |= _machine_names()
    else:
        names.add(_bracketed(host.strip("[]").lower()))
    return sorted(names)


def _machine_names() -> set[str]:
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        infos = []
    return names | {_bracketed(str(info[4][0])) for info in infos}


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class Sessions:
    """Session cookies signed by the app: a random id, when it was issued, and a signature.

    The key is derived from the token, so sessions survive a restart with the same
    token and end when it changes; without a token it is random per process. ``shared``
    is a key every server of the project holds (from its database): derived from it too,
    a session and its CSRF token from one server are good on all of them. The cookie
    never holds the token, and the CSRF token of a session is derived from its id, so a
    cookie set by anyone else carries no valid pair.
    """

    def __init__(self, token: str | None, shared: bytes | None = None) -> None:
        self.token = token
        own = token.encode() if token else b""
        secret = (shared or b"") + own if shared or own else secrets.token_bytes(32)
        self._key = hmac.new(secret, b"learnplace web sessions", hashlib.sha256).digest()

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def new(self, now: float) -> tuple[str, str]:
        """A new session: its id, and the cookie value that carries it."""
        sid = secrets.token_urlsafe(18)
        signed = f"{sid}.{int(now)}"
        return sid, f"{signed}.{self._sign(signed)}"

    def valid(self, cookie: str, now: float) -> str | None:
        """The session id in a cookie this app signed and that has not expired, else None."""
        signed, _, signature = cookie.rpartition(".")
        sid, _, issued = signed.partition(".")
        if not (sid and issued.isascii() and issued.isdigit() and len(issued) < 12):
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(signed).encode()):
            return None
        return sid if 0 <= now - int(issued) < SESSION_S else None

    def csrf(self, sid: str) -> str:
        return self._sign(f"csrf:{sid}")

    def token_ok(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())


def guard(sessions: Sessions, hosts: list[str]) -> Callable[..., Awaitable[Response]]:
    async def check(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        now = time.time()
        sid = sessions.valid(request.cookies.get(SESSION_COOKIE, ""), now)
        if sessions.token is not None:
            login = request.query_params.get("token") if request.url.path == "/login" else None
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if login is not None or bearer:
                # A given token decides, whatever an old cookie says: a stale one never blocks.
                if not sessions.token_ok(login if login is not None else bearer):
                    return PlainTextResponse("an access token is required", status_code=401)
                sid = None if login is not None else sid  # a login starts a new session
            elif sid is None:
                return PlainTextResponse("an access token is required", status_code=401)
        cookie = None
        if sid is None:
            sid, cookie = sessions.new(now)
        request.scope.setdefault("state", {})["csrf"] = sessions.csrf(sid)
        if request.method == "POST" and not same_origin(request, hosts):
            return PlainTextResponse("cross-site request refused", status_code=403)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if cookie is not None:
            response.set_cookie(
                SESSION_COOKIE,
                cookie,
                max_age=SESSION_S,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    return check


def same_origin(request: Request, hosts: list[str]) -> bool:
    """A browser names the page a POST came from: it must be this app at an allowed name.

    The name is checked against the allowlist, not merely against the ``Host`` header,
    which the page's own browser sets from whatever name it used.
    """
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        return False
    try:
        parts = urlsplit(claimed)
        name = _bracketed((parts.hostname or "").lower())
    except ValueError:
        return False
    origin = f"{parts.scheme}://{parts.netloc}"
    return name in hosts and origin == f"{request.url.scheme}://{request.url.netloc}"


def csrf(request: Request) -> str:
    """This session's CSRF token (the guard derived it from the session cookie)."""
    return str(request.scope["state"]["csrf"])


def csrf_ok(request: Request, form: FormData) -> bool:
    field = str(form.get("csrf", ""))
    return hmac.compare_digest(csrf(request).encode(), field.encode())


async def read_form(request: Request) -> FormData:
    """The request's url-encoded form, read up to :data:`MAX_FORM_BYTES` and no further."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise FormError(415, "forms are sent url-encoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError(413, f"a form of more than {MAX_FORM_BYTES // 1024} KB")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # not UTF-8, or more fields than any form of ours has
        raise FormError(400, "a form this app cannot read") from None
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)
