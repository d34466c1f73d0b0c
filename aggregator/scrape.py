"""Items from a web page that has no feed, by the CSS selectors of ``[source.scrape]``.

Events and course listings often exist only as HTML. The selectors are the
person's own, so a selector that finds nothing is an error of the source
(the page changed), reported like a broken feed rather than as an empty day.
Dates come from ``datetime``/``content``/``title`` attributes first (``<time>``,
microdata, hCalendar ``<abbr>``), then the element's text.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from aggregator.classify import Signals, classify
from aggregator.errors import FeedParseError
from aggregator.models import Entry, ParsedFeed, ScrapeRules
from aggregator.sanitize import html_to_text, sanitize_html
from aggregator.urls import is_web_link

DATE_ATTRIBUTES = ("datetime", "content", "title")
MAX_TEXT_CHARS = 20_000


def check_selector(selector: str) -> None:
    """Raise ``ValueError`` for a selector Lexbor cannot compile (config validation)."""
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except SelectolaxError as exc:
        raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from None


def scrape_page(content: bytes, url: str, rules: ScrapeRules, kind: str) -> ParsedFeed:
    """Entries of a listing page; :class:`FeedParseError` when a required selector finds nothing."""
    tree = LexborHTMLParser(content)
    nodes = tree.css(rules.item)
    if not nodes:
        raise FeedParseError(f"scrape: item selector {rules.item!r} matches nothing")
    base = _base(tree, url)
    entries: list[Entry] = []
    problems: list[str] = []
    for position, node in enumerate(nodes, start=1):
        title_node = node.css_first(rules.title)
        title = " ".join(title_node.text(separator=" ").split()) if title_node else ""
        if not title:
            problems.append(f"scrape: item {position} has no {rules.title!r}, skipped")
            continue
        entry = _entry(node, title, base, rules, kind, problems, position)
        entries.append(entry)
    if not entries:
        raise FeedParseError(f"scrape: title selector {rules.title!r} matches nothing")
    if rules.date and all(entry.published is None for entry in entries):
        problems.append(f"scrape: date selector {rules.date!r} gave no date")
    page_title = tree.css_first("title")
    return ParsedFeed(
        title=page_title.text().strip() if page_title else url,
        link=url,
        entries=tuple(entries),
        format="html-scrape",
        problems=tuple(problems),
    )


def _entry(
    node: LexborNode,
    title: str,
    base: str,
    rules: ScrapeRules,
    kind: str,
    problems: list[str],
    position: int,
) -> Entry:
    link_node = node.css_first(rules.link or "a[href]")
    if link_node is None and node.tag == "a":
        link_node = node
    href = (link_node.attributes.get("href") or "") if link_node else ""
    link = urljoin(base, href.strip()) if href.strip() else ""
    link = link if is_web_link(link) else ""
    summary_node = node.css_first(rules.summary) if rules.summary else None
    summary = sanitize_html(summary_node.html or "", link or base) if summary_node else ""
    published = None
    if rules.date:
        date_node = node.css_first(rules.date)
        published = _date(date_node) if date_node else None
        if date_node is not None and published is None:
            problems.append(f"scrape: item {position}: unreadable date {date_node.text()!r}")
    text = html_to_text(summary)[:MAX_TEXT_CHARS] or title
    return Entry(
        guid=link or f"{base}#{title}",
        url=link,
        title=title,
        summary=summary,
        text=text,
        published=published,
        item_type=classify(Signals(kind=kind, title=title, text=text, url=link, guid=link)),
    )


def _base(tree: LexborHTMLParser, url: str) -> str:
    base = tree.css_first("base[href]")
    return urljoin(url, (base.attributes.get("href") or "").strip()) if base else url


def _date(node: LexborNode) -> datetime | None:
    candidates = [node.attributes.get(name) or "" for name in DATE_ATTRIBUTES]
    candidates.append(node.text())
    for candidate in candidates:
        when = _parse_date(candidate.strip())
        if when is not None:
            return when
    return None


def _parse_date(value: str) -> datetime | None:
    """ISO 8601 (what machines put in attributes) or RFC 2822; naive times are taken as UTC."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
