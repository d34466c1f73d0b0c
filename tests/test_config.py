"""feeds.toml and profile validation: every error names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import load_config, load_profile, load_profiles
from aggregator.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

GOOD_FEEDS = """\
[settings]
title = "Team learning"
timeout = 5

# a comment
[[source]]
name = "One"
url = "https://one.example/feed"
kind = "podcast"
tags = ["audio"]

[[source]]
name = "Two"
url = "https://two.example/rss"
"""

GOOD_PROFILE = """\
name = "Ada"
email = "ada@example.org"
digest_size = 5

[interests]
onboarding = 3
"learning   design" = 2

[exclude]
words = ["crypto"]
sources = ["Spam Weekly"]

[types]
course = 1.5
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "feeds.toml", GOOD_FEEDS))
    assert config.settings.title == "Team learning"
    assert config.settings.timeout_s == 5.0
    assert (config.settings.concurrency, config.settings.per_host_concurrency) == (32, 4)
    assert [s.name for s in config.sources] == ["One", "Two"]
    assert config.sources[0].kind == "podcast"
    assert config.sources[0].tags == ("audio",)
    assert config.sources[1].kind == "blog"


def test_shipped_feeds_and_profiles_are_valid() -> None:
    config = load_config(ROOT / "feeds.toml")
    assert len(config.sources) >= 20
    profiles = load_profiles(ROOT / "profiles")
    assert len(profiles) >= 3
    assert all(profile.interests for profile in profiles)


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (GOOD_FEEDS.replace("timeout = 5", "timeuot = 5"), 3, "settings.timeuot", "'timeout'"),
        (GOOD_FEEDS.replace('kind = "podcast"', 'kind = "radio"'), 9, "source.kind", "radio"),
        (
            GOOD_FEEDS.replace('url = "https://two.example/rss"', 'url = "ftp://x"'),
            14,
            "source.url",
            "ftp",
        ),
        (GOOD_FEEDS.replace("timeout = 5", "timeout = true"), 3, "settings.timeout", "expected"),
        (GOOD_FEEDS.replace('tags = ["audio"]', 'tagz = ["audio"]'), 10, "source.tagz", "'tags'"),
        (GOOD_FEEDS.replace("timeout = 5", "timeout = 5 5"), 3, "", "invalid TOML"),
        (
            GOOD_FEEDS.replace("timeout = 5", "per_host_concurrency = 0"),
            3,
            "settings.per_host_concurrency",
            "between 1 and 256",
        ),
    ],
)
def test_bad_config_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, "feeds.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.path == str(path)
    assert error.line == line
    assert error.key == key
    assert words in str(error)
    assert str(error).startswith(f"{path}:{line}:")


def test_duplicate_source_url_is_refused(tmp_path: Path) -> None:
    text = GOOD_FEEDS.replace("https://two.example/rss", "https://one.example/feed")
    with pytest.raises(ConfigError, match="duplicate") as caught:
        load_config(write(tmp_path, "feeds.toml", text))
    assert caught.value.line == 14


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "feeds.toml")


def test_good_profile_loads(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, "ada.toml", GOOD_PROFILE))
    assert profile.name == "ada"
    assert profile.display_name == "Ada"
    assert profile.interests == {"onboarding": 3.0, "learning design": 2.0}
    assert profile.exclude == ("crypto",)
    assert profile.exclude_sources == ("Spam Weekly",)
    assert profile.types == {"course": 1.5}
    assert profile.digest_size == 5


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (
            GOOD_PROFILE.replace("digest_size = 5", "digest_sise = 5"),
            3,
            "digest_sise",
            "'digest_size'",
        ),
        (GOOD_PROFILE.replace("digest_size = 5", "digest_size = 0"), 3, "digest_size", "between"),
        (
            GOOD_PROFILE.replace("onboarding = 3", 'onboarding = "high"'),
            6,
            "interests.onboarding",
            "number",
        ),
        (GOOD_PROFILE.replace("course = 1.5", "cource = 1.5"), 14, "types.cource", "'course'"),
        (GOOD_PROFILE.replace('email = "ada@example.org"', 'email = "ada"'), 2, "email", "e-mail"),
        (GOOD_PROFILE.replace("words = ", "wrods = "), 10, "exclude.wrods", "'words'"),
        # A quoted key may hold dots: found whole, not by its last dotted part.
        (GOOD_PROFILE.replace("digest_size = 5", '"digest.size" = 5'), 3, "digest.size", "key"),
        (GOOD_PROFILE.replace("course = 1.5", '"e.course" = 1.5'), 14, "types.e.course", "type"),
    ],
)
def test_bad_profile_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, "ada.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert (caught.value.path, caught.value.line, caught.value.key) == (str(path), line, key)
    assert words in str(caught.value)


def test_profile_without_interests_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="interests"):
        load_profile(write(tmp_path, "bob.toml", 'name = "Bob"\n'))


def test_profile_file_name_must_be_safe(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file names"):
        load_profile(write(tmp_path, "Bad Name.toml", GOOD_PROFILE))


def test_concurrency_limits_are_settings(tmp_path: Path) -> None:
    text = GOOD_FEEDS.replace("timeout = 5", "concurrency = 32\nper_host_concurrency = 32")
    settings = load_config(write(tmp_path, "feeds.toml", text)).settings
    assert (settings.concurrency, settings.per_host_concurrency) == (32, 32)
