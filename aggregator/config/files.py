"""Loading and validating ``feeds.toml`` and ``profiles/*.toml`` into typed objects.

Reading uses :mod:`tomllib`; every problem becomes a :class:`ConfigError` that
names the file, the line and the key, and suggests the closest valid key for
a typo, because a person edits these files by hand.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aggregator.config.learning import LEARNING_KEYS, learning_fields
from aggregator.config.store_table import store_table
from aggregator.config.xapi import xapi_settings
from aggregator.errors import ConfigError, OldNameWarning
from aggregator.models import (
    ITEM_TYPES,
    PROFILE_NAME,
    Config,
    Profile,
    ScrapeRules,
    Settings,
    SmtpSettings,
    Source,
)
from aggregator.names import OLD_TYPE_NAMES, did_you_mean, old_name_note
from aggregator.parse.scrape import check_selector
from aggregator.urls import has_hidden_characters

SETTINGS_KEYS = (
    "title",
    "contact",
    "timeout",
    "deadline",
    "max_body_mb",
    "concurrency",
    "per_host_concurrency",
    "allow_private_networks",
    "timezone",
)
SOURCE_KEYS = ("name", "url", "kind", "tags", "type", "scrape", "timezone", "disabled")
SCRAPE_KEYS = ("item", "title", "link", "date", "summary", "start", "end", "location")
SMTP_KEYS = ("host", "port", "starttls", "user", "password_env", "from", "timeout")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROFILE_KEYS = (
    "name",
    "email",
    "digest_size",
    "freshness_days",
    "interests",
    "exclude",
    "prefer",
    "types",
    "sections",
    "wanted_types",
    "upcoming_days",
    *LEARNING_KEYS,
)
EXCLUDE_KEYS = ("words", "sources")
PREFER_KEYS = ("sources",)
MAX_WEIGHT = 100.0
MAX_UPCOMING_DAYS = 366
"""A year ahead at most: recurring series are expanded that far for the longest horizon."""
MAX_ENTRIES = 200
"""Interests (or excluded words, or sources) one profile may list: each is ranked against
the whole index, so a 20,000-interest profile never finished a preview."""
MAX_PHRASE_CHARS = 200
_URL = re.compile(r"https?://[^\s/]+\S*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ONE_LINE = re.compile("[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*")
"""Text that stays on one line and reads as written: names, addresses, the contact."""


class _Locator:
    """Finds the line a key sits on, so errors can point at it.

    tomllib keeps no positions, so this scans the text: good enough for the
    hand-written files it serves, where each key stands on its own line.
    """

    def __init__(self, text: str) -> None:
        # TOML lines end at "\n" only; str.splitlines would also split inside a quoted
        # key or string at "\x85", "\u2028" or form feeds and shift every line after.
        self.lines = text.split("\n")

    def find(self, key: str, table: str = "", occurrence: int = 0) -> int | None:
        current, seen = "", -1
        for number, line in enumerate(self.lines, start=1):
            match = _HEADER.match(line)
            if match:
                parts = [_key_name(part) for part in re.findall(_HEADER_PART, match.group(1))]
                current = ".".join(parts)
                if key and _within(current, f"{table}.{key}" if table else key):
                    return number  # a key written as a table: `[email]`, `[interests.x]`
                if current == table:
                    seen += 1
                if not key and _within(current, table) and max(seen, 0) == occurrence:
                    return number
                continue
            in_place = current == table and (not table or seen == occurrence)
            assignment = _ASSIGNMENT.match(line) if key and in_place else None
            if assignment and _key_name(assignment.group(1)) == key:
                return number
        return None


_QUOTED = r"""(?:"(?:[^"\\]|\\.)*"|'[^']*')"""
_HEADER = re.compile(rf"^\s*\[\[?\s*((?:{_QUOTED}|[^\]\"'])+?)\s*\]\]?\s*(#.*)?$")
_HEADER_PART = rf"{_QUOTED}|[^.\s\"']+"
_ASSIGNMENT = re.compile(rf"^\s*({_QUOTED}|[^\s=]+)\s*=")


def _within(name: str, table: str) -> bool:
    """Whether table header ``name`` is ``table`` or one of its sub-tables."""
    return name == table or name.startswith(f"{table}.")


def _key_name(token: str) -> str:
    """A key as TOML reads it: quoted keys may hold escapes (tomlkit writes ``"\\u001f"``)."""
    if not re.fullmatch(_QUOTED, token):
        return token
    try:
        (name,) = tomllib.loads(f"{token} = 0")
    except (tomllib.TOMLDecodeError, ValueError):
        return token
    return name


class _Checker:
    """Validation helpers bound to one file, so every error carries its place."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = str(path)
        self.locate = _Locator(text)

    def fail(self, message: str, key: str, table: str = "", occurrence: int = 0) -> ConfigError:
        """``key`` in full (``table.name``): the name after the table is looked up, whole,
        since a quoted key may itself hold dots."""
        name = key[len(table) + 1 :] if table and key.startswith(f"{table}.") else key
        line = self.locate.find(name, table, occurrence) if key else None
        if line is None and table:
            line = self.locate.find("", table, occurrence)
        return ConfigError(self.path, message, line=line, key=key)

    def note(self, message: str, key: str, table: str = "", occurrence: int = 0) -> None:
        """Say something about a value that is accepted (an old name), placed as an error is."""
        where = self.fail(message, key, table, occurrence)
        warnings.warn(OldNameWarning(str(where)), stacklevel=2)

    def item_type(self, value: object, key: str, table: str = "", n: int = 0) -> str:
        """An item type, or an old kind name read as one (with a note); else the error."""
        if isinstance(value, str) and value in ITEM_TYPES:
            return value
        if isinstance(value, str) and value in OLD_TYPE_NAMES:
            self.note(old_name_note(value), key, table, n)
            return OLD_TYPE_NAMES[value]
        raise self.fail(_type_hint(str(value)), key, table, n)

    def known_keys(
        self, data: Mapping[str, Any], allowed: tuple[str, ...], table: str = "", n: int = 0
    ) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                valid = ", ".join(allowed)
                hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {valid}"
                full = f"{table}.{key}" if table else key
                raise self.fail(f"unknown key{hint}", full, table, n)

    def one_line(self, value: str, key: str, table: str = "", n: int = 0) -> str:
        """``value``, which a header, a log line or a terminal must show as one line."""
        if not _ONE_LINE.fullmatch(value):
            raise self.fail(
                f"must be one line without control characters, got {value!r}", key, table, n
            )
        return value

    def typed(
        self,
        data: Mapping[str, Any],
        key: str,
        kind: type | tuple[type, ...],
        default: Any,
        table: str = "",
        n: int = 0,
    ) -> Any:
        value = data.get(key, default)
        if value is default:
            return value
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; a person writing `timeout = true` made a mistake.
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if wrong_bool or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            full = f"{table}.{key}" if table else key
            raise self.fail(f"expected {names}, got {value!r}", full, table, n)
        return value


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from None
    return text, _toml(path, text)


def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        message = "invalid TOML: arrays or inline tables nested too deeply to read"
        raise ConfigError(str(path), message) from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(str(path), f"invalid TOML: {message}", line=line) from None


def load_config(path: Path) -> Config:
    """Read ``feeds.toml``; raise :class:`ConfigError` on the first problem."""
    text, data = _read(path)
    return _config(path, text, data)


def parse_config(text: str, path: Path) -> Config:
    """Validate ``feeds.toml`` text not read from disk (the demo fills in its server URL)."""
    return _config(path, text, _toml(path, text))


def _config(path: Path, text: str, data: dict[str, Any]) -> Config:
    check = _Checker(path, text)
    check.known_keys(data, ("settings", "source", "smtp", "teams", "xapi", "store"))
    settings = _settings(check, data.get("settings", {}))
    store_url = store_table(check, data["store"]) if "store" in data else None
    smtp = _smtp(check, data["smtp"]) if "smtp" in data else None
    teams = _teams(check, data.get("teams", {}))
    xapi = xapi_settings(check, data["xapi"]) if "xapi" in data else None
    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list):
        raise check.fail("use [[source]] tables, one per source", "source")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(raw_sources):
        source = _source(check, raw, n)
        if source.url in seen:
            raise check.fail(f"duplicate of source #{seen[source.url] + 1}", "url", "source", n)
        seen[source.url] = n
        sources.append(source)
    return Config(
        path=str(path),
        settings=settings,
        sources=tuple(sources),
        smtp=smtp,
        teams=teams,
        xapi=xapi,
        store_url=store_url,
    )


def _smtp(check: _Checker, raw: Any) -> SmtpSettings:
    t = "smtp"
    if not isinstance(raw, dict):
        raise check.fail("expected an [smtp] table", t)
    check.known_keys(raw, SMTP_KEYS, t)
    for key in ("host", "from", "user"):
        value = check.one_line(check.typed(raw, key, str, "", t), f"{t}.{key}", t)
        if key != "user" and not value.strip():
            raise check.fail(f"[smtp] needs {key!r}", f"{t}.{key}", t)
    port = check.typed(raw, "port", int, 587, t)
    if not 1 <= port <= 65535:
        raise check.fail(f"must be between 1 and 65535, got {port}", f"{t}.port", t)
    timeout = check.typed(raw, "timeout", (int, float), 30.0, t)
    if not 0.1 <= timeout <= 300:
        raise check.fail(f"must be between 0.1 and 300, got {timeout}", f"{t}.timeout", t)
    password_env = check.typed(raw, "password_env", str, None, t)
    if password_env is not None and not ENV_NAME.fullmatch(password_env):
        message = f"names an environment variable (like SMTP_PASSWORD), got {password_env!r}"
        raise check.fail(message, f"{t}.password_env", t)
    return SmtpSettings(
        host=raw["host"].strip(),
        sender=raw["from"].strip(),
        port=port,
        starttls=check.typed(raw, "starttls", bool, True, t),
        user=check.typed(raw, "user", str, None, t),
        password_env=password_env,
        timeout_s=float(timeout),
    )


def _teams(check: _Checker, raw: Any) -> dict[str, tuple[str, ...]]:
    """``[teams]`` maps a team name to a list of profile names."""
    t = "teams"
    if not isinstance(raw, dict):
        raise check.fail('expected a [teams] table: team = ["person", ...]', t)
    teams: dict[str, tuple[str, ...]] = {}
    for team, members in raw.items():
        if not PROFILE_NAME.fullmatch(team):
            message = "team names use lower-case letters, digits, '-' and '_' only"
            raise check.fail(message, f"{t}.{team}", t)
        if not isinstance(members, list) or not all(
            isinstance(m, str) and PROFILE_NAME.fullmatch(m) for m in members
        ):
            raise check.fail("expected a list of profile names", f"{t}.{team}", t)
        teams[team] = tuple(dict.fromkeys(members))
    return teams


def _settings(check: _Checker, raw: Any) -> Settings:
    if not isinstance(raw, dict):
        raise check.fail("expected a [settings] table", "settings")
    t = "settings"
    check.known_keys(raw, SETTINGS_KEYS, t)
    defaults = Settings()
    number = (int, float)
    timeout = check.typed(raw, "timeout", number, defaults.timeout_s, t)
    deadline = check.typed(raw, "deadline", number, defaults.deadline_s, t)
    max_body_mb = check.typed(raw, "max_body_mb", number, defaults.max_body_bytes / 2**20, t)
    concurrency = check.typed(raw, "concurrency", int, defaults.concurrency, t)
    per_host = check.typed(raw, "per_host_concurrency", int, defaults.per_host_concurrency, t)
    for key, value, low, high in (
        ("timeout", timeout, 0.1, 300),
        ("deadline", deadline, 0.1, 3600),
        ("max_body_mb", max_body_mb, 0.01, 1024),
        ("concurrency", concurrency, 1, 256),
        ("per_host_concurrency", per_host, 1, 256),
    ):
        if not low <= value <= high:
            raise check.fail(f"must be between {low} and {high}, got {value}", f"{t}.{key}", t)
    return Settings(
        title=check.one_line(check.typed(raw, "title", str, defaults.title, t), f"{t}.title", t),
        user_agent_contact=check.one_line(
            check.typed(raw, "contact", str, defaults.user_agent_contact, t), f"{t}.contact", t
        ),
        timeout_s=float(timeout),
        deadline_s=float(deadline),
        max_body_bytes=int(max_body_mb * 2**20),
        concurrency=concurrency,
        per_host_concurrency=per_host,
        allow_private_networks=check.typed(
            raw, "allow_private_networks", bool, defaults.allow_private_networks, t
        ),
        timezone=_timezone(check, raw, t),
    )


def _timezone(check: _Checker, raw: Mapping[str, Any], table: str, n: int = 0) -> str:
    """An IANA zone name (``Europe/Berlin``), checked against this machine's zone database."""
    name = check.typed(raw, "timezone", str, "", table, n).strip()
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'"
        raise check.fail(message, f"{table}.timezone", table, n) from None
    return name


def _source(check: _Checker, raw: Any, n: int) -> Source:
    t = "source"
    if not isinstance(raw, dict):
        raise check.fail("expected a table", t)
    check.known_keys(raw, SOURCE_KEYS, t, n)
    for key in ("name", "url"):
        if key not in raw:
            raise check.fail(f"source #{n + 1} has no {key!r}", "", t, n)
    url = check.typed(raw, "url", str, "", t, n).strip()
    if not _URL.fullmatch(url) or has_hidden_characters(url):
        raise check.fail(f"not an http(s) URL: {url!r}", f"{t}.url", t, n)
    kind = check.item_type(check.typed(raw, "kind", str, "article", t, n), f"{t}.kind", t, n)
    tags = check.typed(raw, "tags", list, [], t, n)
    if not all(isinstance(tag, str) for tag in tags):
        raise check.fail("tags must be strings", f"{t}.tags", t, n)
    name = check.one_line(check.typed(raw, "name", str, "", t, n), f"{t}.name", t, n).strip()
    if not name:
        raise check.fail("must not be empty", f"{t}.name", t, n)
    item_type = check.typed(raw, "type", str, None, t, n)
    if item_type is not None:
        item_type = check.item_type(item_type, f"{t}.type", t, n)
    scrape = _scrape(check, raw.get("scrape"), n)
    return Source(
        url=url,
        name=name,
        kind=kind,
        tags=tuple(tags),
        item_type=item_type,
        scrape=scrape,
        timezone=_timezone(check, raw, t, n),
        disabled=check.typed(raw, "disabled", bool, False, t, n),
    )


def _type_hint(value: str) -> str:
    close = difflib.get_close_matches(value, ITEM_TYPES, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use {', '.join(ITEM_TYPES)}"
    return f"unknown item type {value!r}; {hint}"


def _type_list(check: _Checker, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """A list of distinct item types (a profile's section order or wanted types)."""
    values = [check.item_type(value, key) for value in check.typed(data, key, list, [])]
    if len(set(values)) != len(values):
        raise check.fail("lists an item type twice", key)
    return tuple(values)


def _scrape(check: _Checker, raw: Any, n: int) -> ScrapeRules | None:
    """``[source.scrape]``: CSS selectors, item and title required, each one must compile."""
    if raw is None:
        return None
    t = "source.scrape"
    if not isinstance(raw, dict):
        raise check.fail("expected a [source.scrape] table of CSS selectors", "source.scrape")
    check.known_keys(raw, SCRAPE_KEYS, t, n)
    selectors: dict[str, str] = {}
    for key in SCRAPE_KEYS:
        value = check.typed(raw, key, str, "", t, n).strip()
        if key in ("item", "title") and not value:
            raise check.fail(f"scrape needs a non-empty {key!r} selector", f"{t}.{key}", t, n)
        if value:
            try:
                check_selector(value)
            except ValueError as exc:
                raise check.fail(str(exc), f"{t}.{key}", t, n) from None
        selectors[key] = value
    return ScrapeRules(**selectors)


def load_profile(path: Path) -> Profile:
    """Read one person's profile; the file name (without .toml) is the person's id."""
    name = path.stem
    if not PROFILE_NAME.fullmatch(name):
        raise ConfigError(
            str(path), "profile file names use lower-case letters, digits, '-' and '_' only"
        )
    text, data = _read(path)
    return _profile(path, text, data)


def parse_profile(text: str, path: Path) -> Profile:
    """Validate profile text before it is saved at ``path`` (CLI edits); errors name ``path``."""
    if not PROFILE_NAME.fullmatch(path.stem):
        raise ConfigError(
            str(path), "profile file names use lower-case letters, digits, '-' and '_' only"
        )
    return _profile(path, text, _toml(path, text))


def _profile(path: Path, text: str, data: dict[str, Any]) -> Profile:
    name = path.stem
    check = _Checker(path, text)
    check.known_keys(data, PROFILE_KEYS)
    defaults = Profile(name=name, display_name=name, interests={})
    digest_size = check.typed(data, "digest_size", int, defaults.digest_size)
    if not 1 <= digest_size <= 200:
        raise check.fail(f"must be between 1 and 200, got {digest_size}", "digest_size")
    freshness = check.typed(data, "freshness_days", int, defaults.freshness_days)
    if not 1 <= freshness <= 3650:
        raise check.fail(f"must be between 1 and 3650, got {freshness}", "freshness_days")
    upcoming_days = check.typed(data, "upcoming_days", int, defaults.upcoming_days)
    if not 1 <= upcoming_days <= MAX_UPCOMING_DAYS:
        message = f"must be between 1 and {MAX_UPCOMING_DAYS}, got {upcoming_days}"
        raise check.fail(message, "upcoming_days")
    email = check.typed(data, "email", str, None)
    if email is not None and not (_EMAIL.fullmatch(email) and _ONE_LINE.fullmatch(email)):
        raise check.fail(f"not an e-mail address: {email!r}", "email")
    interests = _weights(check, data.get("interests"), "interests", required=True)
    exclude = check.typed(data, "exclude", dict, {})
    check.known_keys(exclude, EXCLUDE_KEYS, "exclude")
    prefer = check.typed(data, "prefer", dict, {})
    check.known_keys(prefer, PREFER_KEYS, "prefer")
    types = {
        check.item_type(kind, f"types.{kind}", "types"): weight
        for kind, weight in _weights(check, data.get("types", {}), "types", required=False).items()
    }
    sections = _type_list(check, data, "sections")
    # Types left out of `sections` still get a section, after the listed ones.
    section_order = (*sections, *(t for t in ITEM_TYPES if t not in sections)) if sections else ()
    return Profile(
        name=name,
        display_name=check.one_line(check.typed(data, "name", str, name), "name").strip() or name,
        email=email,
        interests=interests,
        exclude=_strings(check, exclude, "words"),
        exclude_sources=_strings(check, exclude, "sources"),
        prefer_sources=_strings(check, prefer, "sources", table="prefer"),
        types=types,
        digest_size=digest_size,
        freshness_days=freshness,
        path=str(path),
        section_order=section_order,
        wanted_types=_type_list(check, data, "wanted_types"),
        upcoming_days=upcoming_days,
        **learning_fields(check, data),
    )


def _weights(check: _Checker, raw: Any, table: str, *, required: bool) -> dict[str, float]:
    if raw is None:
        if required:
            raise check.fail(f"a profile needs an [{table}] table with at least one entry", table)
        return {}
    if not isinstance(raw, dict):
        raise check.fail(f"expected a [{table}] table", table)
    if len(raw) > MAX_ENTRIES:
        raise check.fail(f"{len(raw):,} entries: at most {MAX_ENTRIES}", table, table)
    weights: dict[str, float] = {}
    for key, value in raw.items():
        if len(key) > MAX_PHRASE_CHARS:
            message = f"a phrase of {len(key):,} characters: at most {MAX_PHRASE_CHARS}"
            raise check.fail(message, f"{table}.{key}", table)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise check.fail(f"weight must be a number, got {value!r}", f"{table}.{key}", table)
        if not 0 <= value <= MAX_WEIGHT:
            message = f"weight must be between 0 and {MAX_WEIGHT:g}"
            raise check.fail(message, f"{table}.{key}", table)
        phrase = " ".join(key.split())
        if not phrase:
            raise check.fail("empty interest", f"{table}.{key}", table)
        weights[phrase] = float(value)
    if required and not weights:
        raise check.fail(f"[{table}] needs at least one entry", table, table)
    return weights


def _strings(
    check: _Checker, data: Mapping[str, Any], key: str, table: str = "exclude"
) -> tuple[str, ...]:
    values = check.typed(data, key, list, [], table)
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise check.fail("expected a list of non-empty strings", f"{table}.{key}", table)
    if len(values) > MAX_ENTRIES or any(len(v) > MAX_PHRASE_CHARS for v in values):
        message = f"at most {MAX_ENTRIES} entries of at most {MAX_PHRASE_CHARS} characters"
        raise check.fail(message, f"{table}.{key}", table)
    return tuple(v.strip() for v in values)


def profile_path(directory: Path, name: str, *, existing: bool = True) -> Path:
    """The file of the person called ``name``, which cannot be outside ``directory``.

    The name comes from a person (a CLI argument, a URL): only a valid profile
    id is accepted, and the resolved path must still sit in ``directory``.
    ``existing=False`` is for a profile about to be created.
    """
    if not PROFILE_NAME.fullmatch(name):
        raise ConfigError(
            str(directory), f"no such profile {name!r}: ids use lower-case letters, digits, - and _"
        )
    folder = directory.resolve()
    path = (folder / f"{name}.toml").resolve()
    if path.parent != folder:
        raise ConfigError(str(directory), f"no such profile {name!r}")
    if existing and not path.is_file():
        hint = did_you_mean(name, sorted(p.stem for p in folder.glob("*.toml")))
        raise ConfigError(str(path), f"no such profile {name!r}{hint}")
    return path


def load_profiles(directory: Path) -> list[Profile]:
    """Every ``*.toml`` profile in ``directory``, sorted by name; the first bad one raises."""
    if not directory.is_dir():
        raise ConfigError(str(directory), "profiles folder not found")
    folder = directory.resolve()
    profiles = []
    for path in sorted(directory.glob("*.toml")):
        if path.resolve().parent != folder:
            raise ConfigError(
                str(path),
                f"links to {path.resolve()}, outside {folder}: profiles live in the folder",
            )
        profiles.append(load_profile(path))
    return profiles
