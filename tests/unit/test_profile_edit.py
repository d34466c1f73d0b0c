"""Editing a profile file: comments survive, invalid changes never reach the disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config.files import load_profile
from aggregator.config.profile_edit import apply, update_profile
from aggregator.errors import ConfigError

TEXT = """\
# Priya's interests
name = "Priya"
digest_size = 12  # a dozen

[interests]
onboarding = 3  # the main thing
coaching = 1.5

# Types she likes
[types]
course = 1.5
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    target = tmp_path / "priya.toml"
    target.write_text(TEXT, encoding="utf-8")
    return target


def test_update_keeps_comments_and_applies_changes(path: Path) -> None:
    update_profile(
        path,
        {
            "digest_size": 8,
            "interests": {"onboarding": 2, "mentoring": 1},
            "types": {"course": 1.5, "paper": 0},
            "exclude_words": ["crypto"],
        },
    )
    text = path.read_text(encoding="utf-8")
    assert "# Priya's interests" in text and "# Types she likes" in text
    assert "digest_size = 8  # a dozen" in text
    assert "onboarding = 2  # the main thing" in text
    assert "coaching" not in text
    profile = load_profile(path)
    assert profile.interests == {"onboarding": 2.0, "mentoring": 1.0}
    assert profile.types == {"course": 1.5, "paper": 0.0}
    assert profile.exclude == ("crypto",)
    assert [p.name for p in path.parent.iterdir()] == ["priya.toml"]  # no temporary left


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"digest_size": 0}, "digest_size"),
        ({"interests": {"onboarding": 101}}, "interests.onboarding"),
        ({"interests": {}}, "interests"),
        ({"types": {"corses": 2}}, "types.corses"),
    ],
)
def test_invalid_changes_raise_with_the_key_and_write_nothing(
    path: Path, changes: dict, key: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        update_profile(path, changes)
    assert raised.value.key == key
    assert raised.value.path == str(path)
    assert path.read_text(encoding="utf-8") == TEXT
    assert [p.name for p in path.parent.iterdir()] == ["priya.toml"]


def test_apply_returns_the_profile_without_writing(path: Path) -> None:
    text, profile = apply(path, {"interests": {"kubernetes": 4}})
    assert profile.interests == {"kubernetes": 4.0} and profile.path == str(path)
    assert "kubernetes = 4" in text
    assert path.read_text(encoding="utf-8") == TEXT
    with pytest.raises(ValueError, match="not editable"):
        apply(path, {"email": "x@example.org"})


def test_update_keeps_the_files_permissions(path: Path) -> None:
    path.chmod(0o640)
    update_profile(path, {"digest_size": 9})
    assert path.stat().st_mode & 0o777 == 0o640
    assert load_profile(path).digest_size == 9
