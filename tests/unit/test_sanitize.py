"""Nothing a source sends may run in our pages: vectors from real test suites and cheat sheets.

Payloads are copied from the shared corpus (corpus/xss) (see tests/data/PROVENANCE.tsv)
and from the feedfarm server's /faults/xss list.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator.parse.registry import parse_feed
from aggregator.sanitize import html_to_text, sanitize_html
from feedfarm.server import XSS as FEEDFARM_XSS

XSS_DIR = Path(__file__).parents[1] / "data" / "xss"
OWASP_SEPARATOR = "\n\x1e\n"  # separates the (multi-line) vectors of the OWASP extract
PAYLOAD_LISTS = ("XSS_Polyglots.txt", "RSNAKE_XSS.txt", "BRUTELOGIC-XSS-STRINGS.txt")
FORBIDDEN_TAGS = {
    "script", "style", "iframe", "object", "embed", "form", "input", "button", "meta",
    "base", "link", "svg", "math", "frame", "frameset", "applet", "textarea", "select",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "background", "poster", "xlink:href"}
SAFE_SCHEMES = ("http://", "https://", "mailto:")


def dangers(html: str) -> list[str]:
    """Everything in ``html`` that a browser could run or that could restyle the page."""
    found = []
    if "<script" in html.lower():
        found.append("<script")
    tree = LexborHTMLParser(html)
    for node in tree.root.traverse() if tree.root else ():
        if node.tag in FORBIDDEN_TAGS:
            found.append(f"<{node.tag}>")
        for name, value in (node.attributes or {}).items():
            lowered = name.lower()
            if lowered.startswith("on") or lowered == "style":
                found.append(f"{node.tag}[{name}]")
            if lowered in URL_ATTRIBUTES and not (value or "").strip().lower().startswith(
                SAFE_SCHEMES
            ):
                found.append(f"{node.tag}[{name}={value!r}]")
    return found


def _payload_lines() -> list[str]:
    vectors = (XSS_DIR / "owasp" / "XSS_Filter_Evasion_vectors_extracted.txt").read_text(
        encoding="utf-8"
    )
    payloads = [vector for vector in vectors.split(OWASP_SEPARATOR) if vector.strip()]
    for name in PAYLOAD_LISTS:
        text = (XSS_DIR / "payloadsallthethings" / name).read_text(encoding="utf-8")
        payloads.extend(line for line in text.splitlines() if line.strip())
    for case in sorted((XSS_DIR / "bleach").glob("*.test")):
        payloads.append(case.read_text(encoding="utf-8").split("\n--\n")[0])
    return payloads


PAYLOADS = _payload_lines()
# Entry- and item-level fixtures; the feed-level ones carry no entry (test_browser renders them).
FEEDPARSER_FIXTURES = sorted(
    path
    for path in (XSS_DIR / "feedparser_sanitize").glob("*.xml")
    if path.name.startswith(("entry_", "item_"))
)


def test_the_checker_sees_danger() -> None:
    """Guards the guard: if ``dangers`` went blind, every test below would pass."""
    raw = (
        '<p onclick="x()" style="color:red">a</p><script>b</script><svg></svg>'
        '<a href="javascript:c()">d</a><img src="data:image/png;base64,AA"><a href="/rel">e</a>'
    )
    assert dangers(raw) == [
        "<script",
        "p[onclick]",
        "p[style]",
        "<script>",
        "<svg>",
        "a[href='javascript:c()']",
        "img[src='data:image/png;base64,AA']",
        "a[href='/rel']",
    ]
    assert (
        dangers('<p><a href="https://x.example/">ok</a> <img src="http://x.example/i.png"></p>')
        == []
    )


def test_payload_corpus_is_loaded() -> None:
    assert len(PAYLOADS) > 300
    assert len(FEEDPARSER_FIXTURES) > 150


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payloads_are_harmless(payload: str) -> None:
    assert dangers(sanitize_html(payload, "https://source.example/blog/")) == []


@pytest.mark.parametrize(("title", "description"), FEEDFARM_XSS, ids=[t for t, _ in FEEDFARM_XSS])
def test_feedfarm_payloads_are_harmless(title: str, description: str) -> None:
    assert dangers(sanitize_html(description, "https://faults.example/xss")) == []
    assert "<" not in html_to_text(title)


@pytest.mark.parametrize("fixture", FEEDPARSER_FIXTURES, ids=lambda path: path.stem)
def test_feedparser_fixtures_are_harmless_after_parsing(fixture: Path) -> None:
    feed = parse_feed(fixture.read_bytes(), {}, "https://feed.example/feed.xml")
    assert feed.entries, "every entry/item fixture carries an entry"
    for entry in feed.entries:
        assert dangers(entry.summary) == []
        assert dangers(entry.content) == []
        assert not entry.url or entry.url.startswith(("http://", "https://"))


def test_feedparser_expected_safe_text_survives() -> None:
    """Sanitizing must not throw the article away with the script (the fixture's Expect: line)."""
    fixture = XSS_DIR / "feedparser_sanitize" / "entry_content_script_base64.xml"
    entry = parse_feed(fixture.read_bytes(), {}, "https://feed.example/").entries[0]
    assert entry.content == "safe description"


def test_allowed_markup_is_kept_and_links_get_rel() -> None:
    html = (
        '<h2>Intro</h2><p>Read <a href="https://docs.example/x" title="Docs">the docs</a> '
        "<strong>now</strong>.</p><ul><li><code>pip install x</code></li></ul>"
        '<figure><img src="https://img.example/a.png" alt="A chart"><figcaption>Fig</figcaption>'
        '</figure><table><tr><td colspan="2">cell</td></tr></table>'
        '<abbr title="HyperText">HT</abbr>'
    )
    assert sanitize_html(html) == (
        '<h2>Intro</h2><p>Read <a href="https://docs.example/x" title="Docs" '
        'rel="noopener noreferrer nofollow">the docs</a> <strong>now</strong>.</p>'
        "<ul><li><code>pip install x</code></li></ul>"
        '<figure><img src="https://img.example/a.png" alt="A chart"><figcaption>Fig</figcaption>'
        '</figure><table><tbody><tr><td colspan="2">cell</td></tr></tbody></table>'
        '<abbr title="HyperText">HT</abbr>'
    )


def test_relative_urls_resolve_against_the_base() -> None:
    html = '<a href="../about">About</a><img src="/logo.png" alt="logo"><a href="#top">Top</a>'
    assert sanitize_html(html, "https://blog.example/posts/2026/entry.html") == (
        '<a href="https://blog.example/posts/about" rel="noopener noreferrer nofollow">About</a>'
        '<img src="https://blog.example/logo.png" alt="logo">'
        '<a href="https://blog.example/posts/2026/entry.html#top" '
        'rel="noopener noreferrer nofollow">Top</a>'
    )


@pytest.mark.parametrize("base", [None, "", "javascript:alert(1)", "ftp://files.example/"])
def test_relative_urls_are_dropped_without_a_web_base(base: str | None) -> None:
    cleaned = sanitize_html('<a href="/x">x</a><img src="y.png" alt="y">', base)
    assert "href" not in cleaned
    assert "src" not in cleaned
    assert ">x</a>" in cleaned


def test_mailto_is_a_link_but_not_an_image() -> None:
    cleaned = sanitize_html(
        '<a href="mailto:a@example.com">mail</a><img src="mailto:a@example.com">'
    )
    assert 'href="mailto:a@example.com"' in cleaned
    assert "<img>" in cleaned


def test_script_and_style_content_is_dropped_not_shown() -> None:
    cleaned = sanitize_html("<p>keep</p><script>var secret = 1;</script><style>p{}</style>")
    assert cleaned == "<p>keep</p>"


def test_h1_becomes_text() -> None:
    assert sanitize_html("<h1>Page title</h1><p>x</p>") == "Page title<p>x</p>"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello&nbsp;<b>World</b></p><p>Next   para</p>", "Hello World Next para"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("a < b and c > d", "a < b and c > d"),
        ("<script>alert(1)</script><style>p{}</style>visible", "visible"),
        ("  plain\n\ttext  ", "plain text"),
        ("<ul><li>one</li><li>two</li></ul>", "one two"),
        (
            "<p>Use <strong>learning design</strong>: see <a href='x'>this</a>.</p>",
            "Use learning design: see this.",
        ),
        ("", ""),
        ("Q&amp;A <SCRIPT type=x>bad()</SCRIPT><Template><p>no</p></Template>yes", "Q&A yes"),
        ("<a href='x'><b>de</b><span><i>sign</i></span></a>: <em>ok</em>", "design: ok"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_json_payload_round_trip_is_sanitized() -> None:
    """The JSON Feed path has its own mapping; it must not skip sanitizing."""
    items = [
        {"id": str(i), "url": f"https://j.example/{i}", "title": title, "content_html": html}
        for i, (title, html) in enumerate(FEEDFARM_XSS)
    ]
    items.append({"id": "x", "url": "javascript:alert(1)", "summary": "<script>x</script>"})
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    feed = parse_feed(json.dumps(document).encode(), {}, "https://j.example/feed.json")
    assert len(feed.entries) == len(items)
    for entry in feed.entries:
        assert dangers(entry.content) == []
        assert dangers(entry.summary) == []
    assert feed.entries[-1].url == ""
    assert feed.entries[-1].summary == "&lt;script&gt;x&lt;/script&gt;"


def test_a_web_link_without_a_host_is_dropped() -> None:
    """Found by fuzzing a real Daring Fireball feed: a mangled ``https:/'www.x/`` link."""
    html = sanitize_html('<a href="https:/\'www.realmacsoftware.com/">x</a>', "https://f.example/")
    assert "href" not in html
    assert 'href="https://www.realmacsoftware.com/"' in sanitize_html(
        '<a href="https://www.realmacsoftware.com/">x</a>', "https://f.example/"
    )
