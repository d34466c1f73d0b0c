"""URL rules shared by parsing and storage: canonical form and link safety.

Pure string work, no I/O. ``canonical_url`` is what duplicate detection
compares: the same article syndicated by several sources arrives with
different tracking parameters, default ports or fragments.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

SAFE_LINK_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
"""Schemes a rendered page may put in an ``href``; everything else can run code or leak data."""

WEB_SCHEMES: frozenset[str] = frozenset({"http", "https"})

DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}

_HIDDEN_IN_URL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Characters no link needs: controls (a line break would end a header or a terminal
line), line separators and bidirectional controls (a link would read other than it goes)."""

TRACKING_PARAM_PREFIXES: tuple[str, ...] = ("utm_", "mtm_")
"""Google Analytics and Matomo campaign parameters: whole families, so matched by prefix."""

TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ref_src",
        "ref_url",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "srsltid",
        "_openstat",
        "pk_campaign",
        "pk_kwd",
        "pk_source",
        "pk_medium",
        "pk_content",
    }
)
"""Click and mail-campaign identifiers: they never change what the page is."""


def canonical_url(url: str) -> str:
    """The form two links must share to count as the same resource.

    Only changes that cannot alter the resource are made: scheme and host
    case, default ports, fragments, tracking parameters and an empty path.
    The order and encoding of the remaining query parameters are kept
    because some sites route on them. A string that does not parse as a URL
    comes back stripped but otherwise unchanged, so callers never need a
    try block.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES or not parts.netloc:
        return urlunsplit(parts._replace(scheme=scheme)) if scheme else url
    netloc = _canonical_netloc(parts, scheme, port)
    path = parts.path or "/"
    query = _strip_tracking(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def _canonical_netloc(parts: SplitResult, scheme: str, port: int | None) -> str:
    """Lower-case host without the scheme's default port; user info is kept as given."""
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    userinfo, _, _ = parts.netloc.rpartition("@")
    return f"{userinfo}@{host}" if userinfo else host


def _strip_tracking(query: str) -> str:
    """Drop tracking parameters without re-encoding the rest (re-encoding could change them)."""
    kept = [pair for pair in query.split("&") if pair and not _is_tracking(pair)]
    return "&".join(kept)


def _is_tracking(pair: str) -> bool:
    name = pair.partition("=")[0].lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PARAM_PREFIXES)


def without_tracking(url: str) -> str:
    """``url`` as given but for its tracking parameters (the fragment and the rest kept):
    the link a person is shown, where :func:`canonical_url` is the one compared."""
    head, hash_mark, fragment = url.partition("#")
    base, question_mark, query = head.partition("?")
    if not question_mark:
        return url
    kept = _strip_tracking(query)
    return base + (f"?{kept}" if kept else "") + hash_mark + fragment


def has_hidden_characters(url: str) -> bool:
    """Whether ``url`` holds a control, line-separator or bidirectional character.

    ``urlsplit`` (and so ``urljoin``) silently drops tabs and line breaks, so a link
    must be checked before it is resolved: ``/a\\nSet-Cookie`` must not become ``/aSet-Cookie``.
    """
    return _HIDDEN_IN_URL.search(url) is not None


def is_safe_link(url: str) -> bool:
    """Whether ``url`` may be put in an ``href`` of a page we render.

    Only absolute http(s) links with a host and ``mailto:`` links pass.
    Relative links fail too: a digest is served from elsewhere than the
    source, so they would point nowhere; resolve them first. The scheme is
    read the way browsers read it (``urlsplit`` drops tabs and newlines, so
    ``java\\tscript:`` is still ``javascript:``), and a link holding a control or
    bidirectional character anywhere is refused.
    """
    url = url.strip()
    if has_hidden_characters(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return bool(parts.path)
    return scheme in WEB_SCHEMES and bool(parts.hostname)


def is_web_link(url: str) -> bool:
    """A safe link that a browser can open as a page (http or https, not mailto)."""
    return is_safe_link(url) and urlsplit(url.strip()).scheme.lower() in WEB_SCHEMES


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 bracketed or not) is this machine: where
    the web app may listen without a token, and where an LRS may be plain http."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
