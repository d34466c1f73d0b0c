"""feeds.toml and profile validation: every error names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config.files import load_config, load_profile, load_profiles
from aggregator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

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
    assert config.sources[1].kind == "article"


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


# --------------------------------------------------------------- issue 15: full matches, one line


@pytest.mark.parametrize(
    ("profile", "key", "says"),
    [
        ('email = "x@example.org\\n"\n[interests]\na = 1\n', "email", "not an e-mail address"),
        ('email = "x@example.org\\u001b"\n[interests]\na = 1\n', "email", "not an e-mail address"),
        ('name = "Ana\\nBcc: all@example.org"\n[interests]\na = 1\n', "name", "one line"),
        ('name = "Ana \\u202eevil"\n[interests]\na = 1\n', "name", "one line"),
    ],
)
def test_profile_values_that_would_leave_their_line_are_refused(
    tmp_path: Path, profile: str, key: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as error:
        load_profile(write(tmp_path, "ana.toml", profile))
    assert (error.value.line, error.value.key) == (1, key)


@pytest.mark.parametrize(
    ("feeds", "key", "says"),
    [
        ('[settings]\ncontact = "me@example.org\\r\\nX-Evil: 1"\n', "settings.contact", "one line"),
        ('[settings]\ntitle = "T\\nU"\n', "settings.title", "one line"),
        (
            '[[source]]\nname = "A"\nurl = "https://a.example/feed\\nX"\n',
            "source.url",
            r"http\(s\) URL",
        ),
        (
            '[[source]]\nname = "A"\nurl = "https://a.example/f\\u0000"\n',
            "source.url",
            r"http\(s\) URL",
        ),
        ('[[source]]\nname = "A\\u0007"\nurl = "https://a.example/f"\n', "source.name", "one line"),
        (
            '[smtp]\nhost = "mail.example"\nfrom = "a@b.example\\r\\nBcc: x"\n',
            "smtp.from",
            "one line",
        ),
    ],
)
def test_config_values_that_would_leave_their_line_are_refused(
    tmp_path: Path, feeds: str, key: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as error:
        load_config(write(tmp_path, "feeds.toml", feeds))
    assert error.value.key == key and error.value.line is not None


def test_a_profile_file_name_must_be_an_id_as_a_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "evil\n.toml", GOOD_PROFILE)
    with pytest.raises(ConfigError, match="file names use lower-case letters"):
        load_profile(path)
    with pytest.raises(ConfigError, match="file names use lower-case letters"):
        load_profiles(tmp_path)


@pytest.mark.parametrize("value", ["[" * 2000 + "]" * 2000, "{a = " * 2000 + "1" + "}" * 2000])
def test_deeply_nested_toml_is_a_clear_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="nested too deeply") as error:
        load_config(write(tmp_path, "feeds.toml", f"x = {value}\n"))
    assert str(error.value).startswith(str(tmp_path / "feeds.toml"))


def test_a_profile_linking_outside_the_folder_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path, "secret.toml", GOOD_PROFILE)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    write(profiles, "ana.toml", GOOD_PROFILE)
    (profiles / "bob.toml").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside") as error:
        load_profiles(profiles)
    assert error.value.path == str(profiles / "bob.toml")
    (profiles / "bob.toml").unlink()
    (profiles / "bob.toml").symlink_to(profiles / "ana.toml")  # a link within the folder is fine
    assert [p.name for p in load_profiles(profiles)] == ["ana", "bob"]
