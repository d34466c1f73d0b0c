"""XML documents freed of entity declarations before feedparser reads them.

expat refuses "billion laughs", but feedparser then reads the document again
with its loose parser, which expands every internal entity it calls safe (text
without ``&``): ``<!ENTITY e "AAAA…">`` and 35,000 ``&e;`` turn 105 KB into a
35 MB summary, and a little more into gigabytes. Feeds have no use for declared
entities, so every declaration is removed; a reference to one stays as its
literal ``&e;``. feedparser reads the bytes in whatever encoding they declare,
so documents in an encoding where ``<!ENTITY`` is not those ASCII bytes
(UTF-16, UTF-32, EBCDIC, UTF-7...) are decoded here to look, and handed on as
UTF-8 when they declare entities.
"""

from __future__ import annotations

import codecs
import html.entities
import re
from collections.abc import Iterator, Mapping

_KEYWORD = "<!ENTITY"
_DECLARATION = re.compile(r"<!ENTITY(?:\"[^\"]*+\"|'[^']*+'|[^>\"'])*+>")
"""One declaration, quoted values and all (possessive: linear on any input)."""
_DECLARED_NAME = re.compile(r"<!ENTITY\s+(?:%\s*)?([^\s%;&<>\"']{1,100})")
_REFERENCE = re.compile(r"&([^\s%;&<>\"'#]{1,100});")
_KEPT_NAMES = frozenset(html.entities.name2codepoint) | {"amp", "lt", "gt", "quot", "apos"}
"""References left as they are: XML's own and HTML's, which expand to a character."""
_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*>")
_DECLARED_ENCODING = re.compile(
    rb"^[\s\xef\xbb\xbf]*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]{1,40})"
)
_SNIFFED: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)
"""How an XML document without an ASCII declaration says its encoding (XML 1.0, appendix F)."""

PROBLEM = "entity declarations ignored: a feed needs none, and they can expand without limit"


def without_entity_declarations(
    content: bytes, headers: Mapping[str, str]
) -> tuple[bytes, dict[str, str], bool]:
    """The document and its headers with no entity declaration left, and whether any was.

    ``headers`` have lower-case names. A document decoded here goes on as UTF-8, and
    its ``Content-Type`` says so.
    """
    found = _KEYWORD.encode() in content
    if found:  # latin-1 maps bytes to characters one to one: any ASCII-based encoding survives
        content = _stripped(content.decode("latin-1")).encode("latin-1")
    for encoding in _other_encodings(content, headers):
        try:
            text = content.decode(encoding, errors="replace")
        except LookupError:  # a codec that is no text encoding ("zlib"): feedparser refuses it too
            continue
        if _KEYWORD in text:
            text = _XML_DECLARATION.sub("", _stripped(text).lstrip("\ufeff"), count=1)
            media_type = headers.get("content-type", "application/xml").partition(";")[0]
            utf8 = '<?xml version="1.0" encoding="utf-8"?>' + text
            return (
                utf8.encode(errors="replace"),
                {**headers, "content-type": f"{media_type}; charset=utf-8"},
                True,
            )
    return content, dict(headers), found


def _stripped(text: str) -> str:
    """``text`` without entity declarations, references to what they declared escaped."""
    declared = {
        name
        for declaration in _DECLARATION.finditer(text)
        for name in _DECLARED_NAME.findall(declaration.group())
    } - _KEPT_NAMES
    text = _DECLARATION.sub("", text).replace(_KEYWORD, "")
    if not declared:
        return text
    return _REFERENCE.sub(
        lambda ref: f"&amp;{ref.group(1)};" if ref.group(1) in declared else ref.group(), text
    )


def _other_encodings(content: bytes, headers: Mapping[str, str]) -> Iterator[str]:
    """Every encoding feedparser might read ``content`` in, but UTF-8 (checked as bytes)."""
    head = content[:4]
    named = [encoding for prefix, encoding in _SNIFFED if head.startswith(prefix)]
    declared = _DECLARED_ENCODING.match(content[:512])
    if declared:
        named.append(declared.group(1).decode("ascii"))
    charset = re.search(r"charset\s*=\s*[\"']?([\w.:-]{1,40})", headers.get("content-type", ""))
    if charset:
        named.append(charset.group(1))
    seen = {"utf-8"}
    for name in named:
        try:
            canonical = codecs.lookup(name).name
        except LookupError:
            continue
        if canonical not in seen:
            seen.add(canonical)
            yield canonical
