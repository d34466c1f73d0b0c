"""Property tests (hypothesis) for the pure code that meets untrusted input first.

URLs, dates, profile files and HTML all arrive from strangers or from hand edits; each
property here is something that must hold for *every* input, not only for the examples
in the other test files. The example budget is the ``learnplace`` settings profile in
conftest.py.
"""

from __future__ import annotations

import json
import re
import string
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
from hypothesis import given
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from aggregator.config.files import PROFILE_KEYS, parse_profile
from aggregator.errors import ConfigError
from aggregator.fetch import schedule
from aggregator.models import FetchResult
from aggregator.parse.registry import parse_feed
from aggregator.process import events
from aggregator.sanitize import sanitize_html
from aggregator.urls import (
    DEFAULT_PORTS,
    TRACKING_PARAM_PREFIXES,
    TRACKING_PARAMS,
    canonical_url,
    is_safe_link,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
C0_OR_SPACE = "".join(chr(c) for c in range(0x21))

# --------------------------------------------------------------------------- URLs


def mixed_case(word: str) -> st.SearchStrategy[str]:
    """``word`` with each letter upper- or lower-cased at random."""
    return st.tuples(*(st.sampled_from(sorted({c.lower(), c.upper()})) for c in word)).map("".join)


label = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
hosts = st.lists(label, min_size=1, max_size=3).map(".".join).map(lambda h: h + ".Example")
tracking_names = st.one_of(
    st.sampled_from(sorted(TRACKING_PARAMS)),
    st.tuples(st.sampled_from(TRACKING_PARAM_PREFIXES), label).map("".join),
).flatmap(mixed_case)
plain_names = label.filter(
    lambda n: n.lower() not in TRACKING_PARAMS and not n.lower().startswith(TRACKING_PARAM_PREFIXES)
)
query_value = st.text(string.ascii_letters + string.digits + "%-._~+/", max_size=8)
params = st.lists(st.tuples(st.one_of(tracking_names, plain_names), query_value), max_size=6)


@st.composite
def web_urls(draw: st.DrawFn) -> dict[str, object]:
    """A generated http(s) URL and the parts it was built from."""
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(st.one_of(st.none(), st.just(DEFAULT_PORTS[scheme]), st.integers(1, 65535)))
    host = draw(hosts)
    path = draw(st.text(string.ascii_letters + string.digits + "/-._~%", max_size=20))
    path = "/" + path.lstrip("/") if path else ""
    query = draw(params)
    fragment = draw(st.one_of(st.none(), st.text(string.printable.strip(), max_size=10)))
    url = f"{draw(mixed_case(scheme))}://{host}"
    url += f":{port}" if port is not None else ""
    url += path
    url += "?" + "&".join(f"{k}={v}" for k, v in query) if query else ""
    url += f"#{fragment}" if fragment is not None else ""
    return {"url": url, "scheme": scheme, "host": host, "port": port, "params": query}


@given(st.text())
def test_canonical_url_never_raises_and_is_idempotent_on_any_text(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once


@given(web_urls())
def test_canonical_url_of_generated_urls(generated: dict[str, object]) -> None:
    result = canonical_url(str(generated["url"]))
    assert canonical_url(result) == result
    parts = urlsplit(result)
    assert parts.scheme == generated["scheme"]
    assert parts.netloc.split(":")[0] == str(generated["host"]).lower()
    port = generated["port"]
    expected_port = None if port == DEFAULT_PORTS[parts.scheme] else port
    assert parts.port == expected_port
    assert "#" not in result and not parts.fragment
    names = [pair.partition("=")[0].lower() for pair in parts.query.split("&") if pair]
    assert not [n for n in names if n in TRACKING_PARAMS or n.startswith(TRACKING_PARAM_PREFIXES)]
    kept = [k.lower() for k, _ in generated["params"] if k in names or k.lower() in names]  # type: ignore[attr-defined]
    assert names == kept


DANGEROUS_SCHEMES = ("javascript", "data", "vbscript")


def browser_scheme(url: str) -> str:
    """The scheme a browser reads: C0 and spaces trimmed, tabs and newlines removed."""
    url = url.strip(C0_OR_SPACE)
    url = re.sub(r"[\t\n\r]", "", url)
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", url)
    return match.group(1).lower() if match else ""


@st.composite
def dangerous_links(draw: st.DrawFn) -> str:
    """``javascript:``/``data:``/``vbscript:`` links dressed up the ways filters get fooled."""
    scheme = draw(st.sampled_from(DANGEROUS_SCHEMES).flatmap(mixed_case))
    noise = st.sampled_from(["", "\t", "\n", "\r"])
    scheme = "".join(c + draw(noise) for c in scheme)
    lead = draw(st.text(C0_OR_SPACE, max_size=3))
    trail = draw(st.text(C0_OR_SPACE, max_size=3))
    colon = draw(st.sampled_from([":", "\t:", ":\n"]))
    body = draw(st.sampled_from(["alert(1)", "//%0aalert(1)", "text/html,<script>x</script>"]))
    return f"{lead}{scheme}{colon}{body}{trail}"


@given(dangerous_links())
def test_is_safe_link_never_accepts_script_schemes(url: str) -> None:
    assert browser_scheme(url) in DANGEROUS_SCHEMES
    assert not is_safe_link(url)


@given(st.one_of(st.text(), web_urls().map(lambda g: str(g["url"]))))
def test_a_safe_link_is_read_by_browsers_as_http_or_mailto(url: str) -> None:
    if is_safe_link(url):
        assert browser_scheme(url) in ("http", "https", "mailto")


# --------------------------------------------------------------------------- dates


def json_feed(date: str) -> bytes:
    item = {"id": "1", "url": "https://x.example/1", "title": "t", "date_published": date}
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [item]}).encode()


def rss_feed(date: str) -> bytes:
    escaped = date.replace("&", "&amp;").replace("<", "&lt;")
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>c</title>"
        f"<item><title>t</title><link>https://x.example/1</link><pubDate>{escaped}</pubDate>"
        "</item></channel></rss>"
    ).encode()


def xml_safe(text: str) -> bool:
    return all(c in "\t\n\r" or 0x20 <= ord(c) < 0xD800 or 0xE000 <= ord(c) < 0xFFFE for c in text)


def assert_utc_or_none(value: datetime | None) -> None:
    assert value is None or value.utcoffset() == timedelta(0)


@given(st.text(max_size=60))
def test_feed_dates_from_any_text_are_utc_or_none(text: str) -> None:
    for document in (json_feed(text), rss_feed(text) if xml_safe(text) else None):
        if document is None:
            continue
        (entry,) = parse_feed(document, {}, "https://x.example/feed").entries
        assert_utc_or_none(entry.published)


fixed_offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=fixed_offsets
)


@given(aware_datetimes)
def test_feed_dates_keep_the_instant(moment: datetime) -> None:
    (entry,) = parse_feed(json_feed(moment.isoformat()), {}, "https://x.example/f").entries
    assert entry.published is not None
    assert entry.published.utcoffset() == timedelta(0)
    assert entry.published == moment


@given(
    st.text(max_size=40), st.sampled_from(["", "UTC", "Europe/Berlin", "Nowhere/City", "America"])
)
def test_event_moments_are_aware_or_none(text: str, zone: str) -> None:
    parsed = events.parse_moment(text, zone)
    if parsed is not None:
        assert parsed[0].tzinfo is not None and parsed[0].utcoffset() is not None


header_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["²", "٣٠", "9" * 5000, "0" * 50 + "60", " 120 "]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
)


@given(header_text, st.sampled_from([429, 503]), st.integers(0, 40))
def test_retry_after_waits_within_the_cap(value: str, status: int, failures: int) -> None:
    result = FetchResult(url="u", final_url="u", status=status, headers={"retry-after": value})
    previous = schedule.SourceState(fetch_url="u", failures=failures)
    state = schedule.decide(result, previous, NOW)
    assert state.next_attempt is not None
    assert NOW <= state.next_attempt <= NOW + max(schedule.RETRY_AFTER_MAX, schedule.BACKOFF_MAX)


@given(header_text)
def test_parse_retry_after_never_raises(value: str) -> None:
    delay = schedule.parse_retry_after(value, NOW)
    assert delay is None or delay >= timedelta(0)


cache_control = st.one_of(
    st.text(max_size=40),
    st.tuples(
        st.sampled_from(["max-age", "s-maxage", "MAX-AGE", "no-cache", "public"]),
        st.one_of(st.integers(-(10**30), 10**30).map(str), st.text(max_size=5)),
    ).map(lambda kv: f"{kv[0]}={kv[1]}"),
)


@given(cache_control, header_text)
def test_freshness_stays_within_the_cap(control: str, expires: str) -> None:
    headers = {"cache-control": control, "expires": expires}
    result = FetchResult(url="u", final_url="u", status=200, content=b"", headers=headers)
    state = schedule.decide(result, schedule.SourceState(fetch_url="u"), NOW)
    assert state.next_attempt is None or NOW < state.next_attempt <= NOW + schedule.CACHE_MAX


# --------------------------------------------------------------------------- profiles

PROFILE_PATH = Path("profiles/alice.toml")
toml_scalars = st.one_of(
    st.text(max_size=12),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.datetimes(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
profile_keys = st.one_of(st.sampled_from(PROFILE_KEYS), st.text(max_size=10))
profile_dicts = st.dictionaries(profile_keys, toml_values, max_size=6)


def assert_parses_or_names_its_place(text: str) -> None:
    """Only ConfigError, naming the file; a key the file contains comes with its line.

    (A missing key, such as a profile without ``[interests]``, has no line to point at.)
    """
    try:
        parse_profile(text, PROFILE_PATH)
    except ConfigError as error:
        assert error.path == str(PROFILE_PATH)
        assert str(error).startswith(str(PROFILE_PATH))
        if error.key and error.key.split(".")[0] in tomllib.loads(text):
            assert error.line is not None, str(error)


@given(profile_dicts)
def test_generated_profiles_fail_only_with_a_located_config_error(data: dict) -> None:
    assert_parses_or_names_its_place(tomlkit.dumps(data))


@given(st.text())
def test_random_text_profiles_fail_only_with_config_error(text: str) -> None:
    assert_parses_or_names_its_place(text)


# --------------------------------------------------------------------------- sanitization

EXECUTABLE_TAGS = (
    "script", "iframe", "svg", "math", "object", "embed", "style", "form", "base", "meta",
    "link", "frame", "frameset", "applet", "template", "noscript", "textarea", "input",
    "button", "select", "video", "audio", "source", "xmp", "plaintext", "noembed",
)  # fmt: skip
HARMLESS_TAGS = ("a", "img", "p", "div", "span", "b", "table", "td", "h1", "h2", "blockquote")
URL_ATTRIBUTES = ("href", "src", "formaction", "action", "xlink:href", "srcset", "poster")
OTHER_ATTRIBUTES = ("onclick", "onerror", "ONLOAD", "onmouseover", "style", "title", "class")
BASE = "https://src.example/posts/"

dangerous_values = st.one_of(
    dangerous_links(),
    st.sampled_from(
        [
            "java&#115;cript:alert(1)",
            "&#106;avascript:alert(1)",
            "jav&#x09;ascript:alert(1)",
            "&#x6A;&#x61;vascript&#x3A;alert(1)",
            "javascript&colon;alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "expression(alert(1))",
            "alert(1)",
            "https://ok.example/",
            "/relative/path",
            "//evil.example/x",
            "mailto:a@b.example",
        ]
    ),
)
attribute_values = st.one_of(dangerous_values, st.text(max_size=10))


def attribute(name: str, value: str, quote: str) -> str:
    value = value.replace(quote, "") if quote else re.sub(r"[\s>\"'`=<]", "", value)
    return f"{name}={quote}{value}{quote}"


@st.composite
def html_fragments(draw: st.DrawFn, depth: int = 0) -> str:
    """Tag soup: dangerous and harmless tags, script-bearing attributes, entities, NULs."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 4))
        if kind == 0 or depth >= 2:
            parts.append(draw(st.sampled_from(["text", "&lt;", "&amp;", "\x00", " \n", "&#0;"])))
            continue
        tag = draw(st.sampled_from(EXECUTABLE_TAGS + HARMLESS_TAGS).flatmap(mixed_case))
        attributes = []
        for _ in range(draw(st.integers(0, 3))):
            name = draw(st.sampled_from(URL_ATTRIBUTES + OTHER_ATTRIBUTES).flatmap(mixed_case))
            quote = draw(st.sampled_from(['"', "'", ""]))
            attributes.append(attribute(name, draw(attribute_values), quote))
        separator = draw(st.sampled_from([" ", "/", "\n", "\t", " \x00"]))
        inner = draw(html_fragments(depth + 1)) if kind > 1 else ""
        close = draw(st.sampled_from([f"</{tag}>", "", f"</{tag} >"]))
        parts.append(f"<{tag}{separator}{' '.join(attributes)}>{inner}{close}")
    return "".join(parts)


def assert_nothing_executable(html: str) -> None:
    tree = LexborHTMLParser(html)
    for tag in EXECUTABLE_TAGS:
        assert not tree.css(tag), (tag, html)
    root = tree.body
    if root is None:
        return
    for node in root.traverse():
        for name, value in (node.attributes or {}).items():
            assert not name.lower().startswith("on"), (name, html)
            assert name.lower() not in ("style", "formaction", "action", "srcset"), (name, html)
            if name.lower() in ("href", "src"):
                assert value is not None
                assert browser_scheme(value) in ("http", "https", "mailto"), (value, html)
                parts = urlsplit(value.strip())
                assert parts.hostname or parts.scheme == "mailto", (value, html)


@given(html_fragments(), st.sampled_from([BASE, None, "javascript:alert(1)//"]))
def test_sanitized_html_has_nothing_executable(html: str, base: str | None) -> None:
    assert_nothing_executable(sanitize_html(html, base))


@given(st.text())
def test_sanitizing_any_text_leaves_nothing_executable(text: str) -> None:
    assert_nothing_executable(sanitize_html(text, BASE))
