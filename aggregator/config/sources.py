"""Editing the source list: ``feeds.toml`` through tomlkit, OPML in and out.

A person edits ``feeds.toml`` by hand, so every change here goes through
tomlkit, which keeps their comments and layout; the result is validated
with :func:`aggregator.config.files.parse_config` before it replaces the file
(atomically), so a command can never leave a file the next run rejects.
OPML is read with listparser (feedparser's author, tolerant of the OPML
found in the wild) and written as OPML 2.0 with ``xml.etree``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import listparser
import tomlkit
from tomlkit.items import AoT, Table

from aggregator.atomic import write_atomic
from aggregator.config.files import parse_config
from aggregator.errors import ImportFileError, SourceListError, UnknownNameError
from aggregator.models import ITEM_TYPES, Config, Source
from aggregator.names import OLD_TYPE_NAMES, did_you_mean


def add_sources(path: Path, sources: Sequence[Source]) -> list[Source]:
    """Append ``sources`` to ``feeds.toml``, skipping URLs already listed; returns those added."""
    document = _read(path)
    listed = {str(table.get("url", "")) for table in _source_tables(document)}
    added: list[Source] = []
    for source in sources:
        if source.url in listed:
            continue
        listed.add(source.url)
        added.append(source)
        table = tomlkit.table()
        table.trivia.indent = "\n"  # a blank line before each [[source]], as people write them
        table.add("name", source.name)
        table.add("url", source.url)
        if source.kind != "article":
            table.add("kind", source.kind)
        if source.tags:
            table.add("tags", list(source.tags))
        _source_array(document).append(table)
    if added:
        _write(path, document)
    return added


def remove_source(path: Path, url_or_name: str) -> Source:
    """Drop the one source whose URL or name is ``url_or_name``; returns it."""
    document = _read(path)
    found = _find(path, _source_tables(document), url_or_name)
    removed = _source_tables(document)[found]
    source = Source(url=str(removed["url"]), name=str(removed["name"]))
    del _source_array(document)[found]
    _write(path, document)
    return source


def set_disabled(path: Path, url_or_name: str, disabled: bool) -> Source:
    """Turn fetching a source off (``disabled = true``) or back on; its items stay."""
    document = _read(path)
    table = _source_tables(document)[_find(path, _source_tables(document), url_or_name)]
    if disabled:
        table["disabled"] = True
    elif "disabled" in table:
        del table["disabled"]
    _write(path, document)
    return Source(url=str(table["url"]), name=str(table["name"]), disabled=disabled)


def _find(path: Path, tables: Sequence[Table], url_or_name: str) -> int:
    """The position of the one source whose URL or name is ``url_or_name``."""
    matches = [
        n for n, table in enumerate(tables) if url_or_name in (table.get("url"), table.get("name"))
    ]
    if not matches:
        known = [str(table.get(key, "")) for table in tables for key in ("name", "url")]
        hint = did_you_mean(url_or_name, known)
        raise UnknownNameError(f"{path}: no source with URL or name {url_or_name!r}{hint}")
    if len(matches) != 1:
        raise SourceListError(f"{path}: {len(matches)} sources with URL or name {url_or_name!r}")
    return matches[0]


KIND_CATEGORY = ("learnplace", "kind")
"""The category path our export gives a source's kind: ``/learnplace/kind/podcast``.

A plain category would not do: readers drop a repeated category, so a
``news`` source tagged ``news`` came back without the tag."""


@dataclass(frozen=True, slots=True)
class OpmlList:
    """What an OPML file holds: sources to add, and outlines that name no feed we can fetch."""

    sources: list[Source]
    unreadable: list[tuple[str, str]]
    """(the outline's title or address, why it cannot be a source), in file order."""


def read_opml(content: bytes, name: str = "the file") -> OpmlList:
    """Sources from an OPML subscription list; :class:`ImportFileError` if it is none.

    The kind comes from our export's ``/learnplace/kind/...`` category, or else
    (other readers, older exports) from a category or folder naming a type, in
    either vocabulary and either number ("Podcasts", "courses", "Video").
    """
    parsed = listparser.parse(content)
    if parsed.bozo and not parsed.feeds:
        raise ImportFileError(f"{name}: not an OPML subscription list: {parsed.bozo_exception}")
    if not parsed.version:
        raise ImportFileError(f"{name}: not an OPML subscription list (no <opml> document)")
    sources, unreadable = [], []
    for feed in parsed.feeds:
        url = str(feed["url"]).strip()
        title = " ".join(str(feed.get("title") or "").split())
        if not url.startswith(("http://", "https://")):
            unreadable.append((title or url, f"not an http(s) feed address: {url!r}"))
            continue
        kind, tags = _kind_and_tags(feed)
        sources.append(Source(url=url, name=title or url, kind=kind, tags=tags))
    if not sources and not unreadable:
        raise ImportFileError(f"{name}: an OPML list without any feed (no outline has an xmlUrl)")
    return OpmlList(sources, unreadable)


def _kind_and_tags(feed: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """A feed outline's type (our marked category first) and its other categories as tags."""
    categories = [str(tag).strip() for tag in feed.get("tags", []) if str(tag).strip()]
    marked = [
        type_named(path[-1])
        for path in feed.get("categories", [])
        if tuple(path[:-1]) == KIND_CATEGORY and type_named(path[-1])
    ]
    if marked:
        return marked[0], tuple(categories)
    for category in categories:
        found = type_named(category)
        if found and found != "article":  # "blog" or "news" says nothing a tag does not
            return found, tuple(tag for tag in categories if tag != category)
    return "article", tuple(categories)


def type_named(word: str) -> str:
    """The item type a category names ("Podcasts", "courses", "blog"), or "" for none."""
    folded = word.strip().casefold()
    for candidate in (folded, folded.removesuffix("s")):
        if candidate in ITEM_TYPES:
            return candidate
        if candidate in OLD_TYPE_NAMES:
            return OLD_TYPE_NAMES[candidate]
    return ""


def write_opml(config: Config, now: datetime) -> bytes:
    """OPML 2.0 for every source; ``category`` holds the kind (:data:`KIND_CATEGORY`), then tags."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = f"{config.settings.title} sources"
    ET.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = ET.SubElement(opml, "body")
    for source in config.sources:
        outline = ET.SubElement(
            body, "outline", type="rss", text=source.name, title=source.name, xmlUrl=source.url
        )
        kind = "/" + "/".join((*KIND_CATEGORY, source.kind))
        outline.set("category", ",".join((kind, *source.tags)))
    ET.indent(opml)
    return ET.tostring(opml, encoding="utf-8", xml_declaration=True) + b"\n"


def _read(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return tomlkit.document()  # `sources add` or `import` into a new project


def _source_array(document: tomlkit.TOMLDocument) -> AoT:
    if "source" not in document:
        document.append("source", tomlkit.aot())
    array = document["source"]
    if isinstance(array, list) and not isinstance(array, AoT) and not array:
        # tomlkit turns an array of tables emptied by `remove` into a plain `source = []`.
        document["source"] = array = tomlkit.aot()
    if not isinstance(array, AoT):
        raise SourceListError("feeds.toml: 'source' must be [[source]] tables")
    return array


def _source_tables(document: tomlkit.TOMLDocument) -> list[Table]:
    return list(_source_array(document)) if "source" in document else []


def _write(path: Path, document: tomlkit.TOMLDocument) -> None:
    """Validate, then replace the file in one rename: readers see the old or the new list."""
    text = tomlkit.dumps(document)
    parse_config(text, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
