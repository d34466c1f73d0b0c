"""Editing the source list: ``feeds.toml`` through tomlkit, OPML in and out.

A person edits ``feeds.toml`` by hand, so every change here goes through
tomlkit, which keeps their comments and layout; the result is validated
with :func:`aggregator.config.parse_config` before it replaces the file
(atomically), so a command can never leave a file the next run rejects.
OPML is read with listparser (feedparser's author, tolerant of the OPML
found in the wild) and written as OPML 2.0 with ``xml.etree``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

import listparser
import tomlkit
from tomlkit.items import AoT, Table

from aggregator.atomic import write_atomic
from aggregator.config.files import parse_config
from aggregator.errors import SourceListError
from aggregator.models import SOURCE_KINDS, Config, Source


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
        if source.kind != "blog":
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
    tables = _source_tables(document)
    matches = [
        n for n, table in enumerate(tables) if url_or_name in (table.get("url"), table.get("name"))
    ]
    if len(matches) != 1:
        problem = "no source" if not matches else f"{len(matches)} sources"
        raise SourceListError(f"{path}: {problem} with URL or name {url_or_name!r}")
    removed = tables[matches[0]]
    source = Source(url=str(removed["url"]), name=str(removed["name"]))
    del _source_array(document)[matches[0]]
    _write(path, document)
    return source


KIND_CATEGORY = ("learnplace", "kind")
"""The category path our export gives a source's kind: ``/learnplace/kind/podcast``.

A plain category would not do: readers drop a repeated category, so a
``news`` source tagged ``news`` came back without the tag."""


def read_opml(content: bytes) -> list[Source]:
    """Sources from an OPML subscription list.

    The kind comes from our export's ``/learnplace/kind/...`` category, or
    else (other readers, older exports) from a first category naming a kind.
    """
    parsed = listparser.parse(content)
    if not parsed.feeds and parsed.bozo:
        raise SourceListError(f"not an OPML subscription list: {parsed.bozo_exception}")
    sources = []
    for feed in parsed.feeds:
        url = str(feed["url"]).strip()
        if not url.startswith(("http://", "https://")):
            continue
        categories = [str(tag).strip() for tag in feed.get("tags", []) if str(tag).strip()]
        kind, tags = "blog", tuple(categories)
        marked = [
            path[-1]
            for path in feed.get("categories", [])
            if tuple(path[:-1]) == KIND_CATEGORY and path[-1] in SOURCE_KINDS
        ]
        if marked:
            kind = marked[0]
        elif categories and categories[0] in SOURCE_KINDS:
            kind, tags = categories[0], tuple(categories[1:])
        name = " ".join(str(feed.get("title") or "").split()) or url
        sources.append(Source(url=url, name=name, kind=kind, tags=tags))
    return sources


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
