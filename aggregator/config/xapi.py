"""The ``[xapi]`` table of ``feeds.toml``, checked as :mod:`.files` checks the rest::

    [xapi]
    endpoint = "https://lrs.example.org/xapi/"
    username = "learnplace"
    password_env = "LRS_PASSWORD"
    # allow_http = true      # plain http:// beyond loopback: only on a trusted network
    # homepage = "https://learn.example.org/"   # the account of a person without e-mail
    # timeout = 30

Whether the endpoint may be reached over plain http is decided where statements are sent
(:func:`aggregator.deliver.xapi.check_endpoint`), so a file that says ``allow_http`` is read
the same everywhere.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aggregator.models import XapiSettings

if TYPE_CHECKING:
    from aggregator.config.files import _Checker

XAPI_KEYS = ("endpoint", "username", "password_env", "allow_http", "homepage", "timeout")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def xapi_settings(check: _Checker, raw: Any) -> XapiSettings:
    """The ``[xapi]`` table, or the ConfigError naming its line and key."""
    t = "xapi"
    if not isinstance(raw, dict):
        raise check.fail("expected an [xapi] table", t)
    check.known_keys(raw, XAPI_KEYS, t)
    values: dict[str, str] = {}
    for key in ("endpoint", "username", "password_env", "homepage"):
        value = check.one_line(check.typed(raw, key, str, "", t), f"{t}.{key}", t).strip()
        if key != "homepage" and not value:
            raise check.fail(f"[xapi] needs {key!r}", f"{t}.{key}", t)
        values[key] = value
    for key in ("endpoint", "homepage"):
        if values[key] and not _is_http_url(values[key]):
            message = f"must be an http:// or https:// URL, got {values[key]!r}"
            raise check.fail(message, f"{t}.{key}", t)
    if not _ENV_NAME.fullmatch(values["password_env"]):
        message = f"names an environment variable (like LRS_PASSWORD), got {raw['password_env']!r}"
        raise check.fail(message, f"{t}.password_env", t)
    timeout = check.typed(raw, "timeout", (int, float), 30.0, t)
    if not 0.1 <= timeout <= 300:
        raise check.fail(f"must be between 0.1 and 300, got {timeout}", f"{t}.timeout", t)
    return XapiSettings(
        endpoint=values["endpoint"],
        username=values["username"],
        password_env=values["password_env"],
        allow_http=check.typed(raw, "allow_http", bool, False, t),
        homepage=values["homepage"],
        timeout_s=float(timeout),
    )


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
