"""Every name a person types is checked, one vocabulary of item types, imports that say what
they did, profile edits where they belong, and a source that can be turned off."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import app as application
from aggregator.config.files import load_config, load_profile, parse_config, parse_profile
from aggregator.errors import ConfigError, OldNameWarning, UnknownNameError
from aggregator.names import check_name, item_type
from aggregator.workers import parse_document
from tests.cli import REPO, learnplace
from tests.conftest import StaticServer, serve_static
from tests.digest_site import make_project, rss
from tests.e2e.test_first_use import page_items

RSS = "application/rss+xml"
OLD_FEEDS = """\
[settings]
allow_private_networks = true

[[source]]
name = "Old courses"
url = "https://courses.example.org/feed"
kind = "courses"

[[source]]
name = "Old blog"
url = "https://blog.example.org/feed"
kind = "blog"
type = "papers"
"""


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder after ``learnplace demo`` (tests here never change what it holds)."""
    root = tmp_path_factory.mktemp("names")
    result = learnplace(root, "demo", "--quiet")
    assert result.returncode == 0, result.stderr
    return root


# One vocabulary of item types.


def test_old_kind_names_are_read_as_types_with_a_note_naming_file_line_and_key() -> None:
    with pytest.warns(OldNameWarning) as notes:
        config = parse_config(OLD_FEEDS, Path("feeds.toml"))
    assert [(s.kind, s.item_type) for s in config.sources] == [
        ("course", None),
        ("article", "paper"),
    ]
    said = [str(note.message) for note in notes]
    assert said[0].startswith("feeds.toml:7: source.kind: 'courses' is an old name: read as")
    assert said[1].startswith("feeds.toml:12: source.kind: 'blog' is an old name")
    assert said[2].startswith("feeds.toml:13: source.type: 'papers' is an old name")


def test_a_profile_with_old_type_names_works_with_a_note() -> None:
    text = 'wanted_types = ["events"]\n\n[interests]\nsql = 1\n\n[types]\ncourses = 1.5\n'
    with pytest.warns(OldNameWarning) as notes:
        profile = parse_profile(text, Path("ana.toml"))
    assert sorted(str(note.message).split(" is ")[0] for note in notes) == [
        "ana.toml:1: wanted_types: 'events'",
        "ana.toml:7: types.courses: 'courses'",
    ]
    assert profile.types == {"course": 1.5} and profile.wanted_types == ("event",)


def test_a_name_that_is_no_type_is_still_refused_with_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"feeds.toml:4: source.kind: unknown item type 'corse'"):
        parse_config(
            '[[source]]\nname = "A"\nurl = "https://a.example/f"\nkind = "corse"\n',
            Path("feeds.toml"),
        )
    assert item_type("courses") == "course"
    with pytest.raises(UnknownNameError, match="did you mean 'video'"):
        item_type("videos")


def test_the_cli_says_the_note_once_on_stderr_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "feeds.toml").write_text(OLD_FEEDS, encoding="utf-8")
    listed = learnplace(tmp_path, "sources", "--json")
    assert listed.returncode == 0, listed.stderr
    notes = [line for line in listed.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 3 and f"{tmp_path / 'feeds.toml'}:7: source.kind: 'courses'" in notes[0]
    assert [s["name"] for s in json.loads(listed.stdout)] == ["Old courses", "Old blog"]


def test_search_takes_types_in_the_one_vocabulary(demo_root: Path) -> None:
    new = learnplace(demo_root, "search", "--type", "course", "--json")
    old = learnplace(demo_root, "search", "--type", "courses", "--json")
    assert new.returncode == old.returncode == 0, old.stderr
    assert json.loads(new.stdout)["results"] == json.loads(old.stdout)["results"] != []
    assert "note: --type: 'courses' is an old name: read as 'course'" in old.stderr
    typo = learnplace(demo_root, "search", "--type", "corse")
    assert typo.returncode == 2 and "did you mean 'course'?" in typo.stderr


# Every name a person types is checked.


def test_excluding_a_source_by_a_near_name_is_refused_with_the_name(demo_root: Path) -> None:
    profile = demo_root / "profiles" / "lnd-adviser.toml"
    before = profile.read_text(encoding="utf-8")
    wrong = learnplace(demo_root, "profile", "exclude", "lnd-adviser", "Community Pick", "--source")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "no source named 'Community Pick'; did you mean 'Community Picks'?" in wrong.stderr
    assert profile.read_text(encoding="utf-8") == before
    assert learnplace(demo_root, "profile", "exclude", "lnd-adviser", "x", "--source").returncode
    assert profile.read_text(encoding="utf-8") == before


def test_search_by_a_wrong_source_or_tag_names_the_closest(demo_root: Path) -> None:
    source = learnplace(demo_root, "search", "--source", "Community Pick")
    assert source.returncode == 1
    assert "no source named 'Community Pick'; did you mean 'Community Picks'?" in source.stderr
    found = learnplace(demo_root, "search", "--source", "Community Picks", "--json")
    assert json.loads(found.stdout)["total"] > 0
    tags = {
        tag
        for r in json.loads(learnplace(demo_root, "search", "onboarding", "--json").stdout)[
            "results"
        ]
        for tag in r["tags"]
    }
    tag = sorted(tags)[0]
    near = learnplace(demo_root, "search", "onboarding", "--tag", tag[:-1] + "x")
    assert near.returncode == 1
    assert f"no collected item is tagged '{tag[:-1]}x'; did you mean '{tag}'" in near.stderr


def test_a_wrong_profile_name_names_the_closest(demo_root: Path) -> None:
    result = learnplace(demo_root, "preview", "lnd-advisor")
    assert result.returncode == 1
    assert "no such profile 'lnd-advisor'; did you mean 'lnd-adviser'?" in result.stderr
    shared = learnplace(demo_root, "share", "team-lad", "1", "--note", "x")
    assert shared.returncode == 1 and "did you mean 'team-lead'?" in shared.stderr


def test_removing_a_source_by_a_near_name_names_it_and_removes_nothing(tmp_path: Path) -> None:
    (tmp_path / "feeds.toml").write_text(
        OLD_FEEDS.replace('"courses"', '"course"')
        .replace('"blog"', '"article"')
        .replace('"papers"', '"paper"'),
        encoding="utf-8",
    )
    before = (tmp_path / "feeds.toml").read_text(encoding="utf-8")
    result = learnplace(tmp_path, "sources", "remove", "Old course")
    assert result.returncode == 1
    assert "no source with URL or name 'Old course'; did you mean 'Old courses'?" in result.stderr
    assert (tmp_path / "feeds.toml").read_text(encoding="utf-8") == before


def test_check_name_lists_what_there_is_when_nothing_is_close() -> None:
    with pytest.raises(UnknownNameError, match=r"no tag named 'zzz'; known: 'a', 'b'"):
        check_name("zzz", ["b", "a"], "tag")


# Imports say what they added, skipped and could not read.

OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>From another reader</title></head><body>
<outline text="Podcasts">
  <outline text="A podcast" type="rss" xmlUrl="{podcast}"/>
</outline>
<outline text="Courses"><outline text="Dead courses" type="rss" xmlUrl="{dead}"/></outline>
<outline text="A blog page" type="rss" xmlUrl="{page}"/>
<outline text="Listed already" type="rss" xmlUrl="{listed}"/>
<outline text="Local file" xmlUrl="file:///etc/passwd"/>
</body></opml>
"""


def _import_project(root: Path, server: StaticServer) -> tuple[Path, str]:
    now = datetime.now(UTC)
    feed = server.add("/podcast.xml", rss(now), headers={"Content-Type": RSS})
    blog = server.add("/blog/feed.xml", rss(now, first=50), headers={"Content-Type": RSS})
    page = server.add(
        "/blog/",
        f'<html><head><link rel="alternate" type="{RSS}" href="{blog}"></head>'
        "<body>A blog</body></html>".encode(),
        headers={"Content-Type": "text/html"},
    )
    listed = server.add("/listed.xml", rss(now, first=80))
    make_project(root, listed)
    opml = root / "list.opml"
    opml.write_text(
        OPML.format(podcast=feed, dead=server.url("/gone.xml"), page=page, listed=listed),
        encoding="utf-8",
    )
    return opml, feed


def test_an_opml_import_checks_each_feed_and_says_what_it_did(tmp_path: Path) -> None:
    with serve_static() as server:
        opml, podcast = _import_project(tmp_path, server)
        result = learnplace(tmp_path, "sources", "import", str(opml))
    assert result.returncode == 1, "a feed could not be read"
    out = result.stdout
    assert "Added 2 sources." in out
    assert f"+ A podcast (podcast): {podcast}" in out
    assert f"+ A blog page (article): {server.url('/blog/feed.xml')}" in out
    assert "Skipped 1 already in feeds.toml." in out and "= Listed already" in out
    assert "Could not read 2:" in result.stderr
    assert f"! Dead courses: {server.url('/gone.xml')}: HTTP 404" in result.stderr
    assert "! Local file: not an http(s) feed address" in result.stderr
    sources = load_config(tmp_path / "feeds.toml").sources
    assert [(s.name, s.kind) for s in sources[1:]] == [
        ("A podcast", "podcast"),
        ("A blog page", "article"),
    ]


def test_an_unchecked_import_says_so_and_maps_folders_to_types(tmp_path: Path) -> None:
    with serve_static() as server:
        opml, _ = _import_project(tmp_path, server)
        result = learnplace(tmp_path, "sources", "import", "--no-check", str(opml))
    assert "Added 3 sources (unchecked: fetched at the next run)." in result.stdout
    kinds = {s.name: s.kind for s in load_config(tmp_path / "feeds.toml").sources}
    assert kinds["Dead courses"] == "course" and kinds["A podcast"] == "podcast"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not xml at all",
        b"<html><body>a page</body></html>",
        b'<?xml version="1.0"?><rss/>',
        b'<opml version="2.0"><head/><body><outline text="no feeds"/></body></opml>',
    ],
)
def test_a_broken_or_non_opml_file_is_an_error_that_says_why(
    tmp_path: Path, content: bytes
) -> None:
    (tmp_path / "feeds.toml").write_text("[settings]\n", encoding="utf-8")
    (tmp_path / "list.opml").write_bytes(content)
    result = learnplace(tmp_path, "sources", "import", str(tmp_path / "list.opml"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "list.opml: " in result.stderr
    assert "not an OPML subscription list" in result.stderr or "without any feed" in result.stderr
    assert (tmp_path / "feeds.toml").read_text(encoding="utf-8") == "[settings]\n"


# Profile edits land where they belong.


def test_add_interest_writes_it_in_interests_not_under_the_exclude_comment(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    source = REPO / "profiles" / "lnd-adviser.toml"
    path = tmp_path / "profiles" / "lnd-adviser.toml"
    path.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    result = learnplace(
        tmp_path, "profile", "add-interest", "lnd-adviser", "peer learning", "-w", "2"
    )
    assert result.returncode == 0, result.stderr
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index('"peer learning" = 2.0')
    assert lines[at - 1] == '"learning transfer" = 1', "right after the last interest"
    assert lines[at + 1] == "" and lines[at + 2].startswith("# Never show items")
    assert tomllib.loads("\n".join(lines))["interests"]["peer learning"] == 2
    original = source.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line != '"peer learning" = 2.0'] == original


def test_the_web_form_save_adds_no_empty_types_table(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    path = tmp_path / "profiles" / "ana.toml"
    path.write_text(
        '# Ana\nname = "Ana"\n\n[interests]\npython = 3\n\n'
        "# What she never wants.\n[exclude]\nwords = []\n",
        encoding="utf-8",
    )
    with application.Application.at(tmp_path) as app:
        changes = {"interests": {"python": 3.0, "dbt": 1.5}, "types": {}, "exclude_words": []}
        app.save_profile_changes(path, changes)
    text = path.read_text(encoding="utf-8")
    assert "[types]" not in text
    assert text == (
        '# Ana\nname = "Ana"\n\n[interests]\npython = 3\ndbt = 1.5\n\n'
        "# What she never wants.\n[exclude]\nwords = []\n"
    )
    assert load_profile(path).interests == {"python": 3.0, "dbt": 1.5}


# A source that is listed but turned off.


def test_disabled_is_validated_like_every_key() -> None:
    text = '[[source]]\nname = "A"\nurl = "https://a.example/f"\ndisabled = "yes"\n'
    with pytest.raises(ConfigError, match=r"feeds.toml:4: source.disabled: expected bool"):
        parse_config(text, Path("feeds.toml"))


def test_a_disabled_source_is_listed_shown_and_never_fetched(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with serve_static() as server:
        url = server.add("/feed.xml", rss(now))
        make_project(tmp_path, url)
        assert learnplace(tmp_path, "sources", "disable", "Learning at wrk").returncode == 1
        off = learnplace(tmp_path, "sources", "disable", "Learning at work")
        assert off.returncode == 0, off.stderr
        assert "disabled = true" in (tmp_path / "feeds.toml").read_text(encoding="utf-8")
        summary = application.run(application.Project.at(tmp_path), now=now)
        assert server.hits["/feed.xml"] == 0 and summary.disabled == 1 and not summary.failures
        listed = json.loads(learnplace(tmp_path, "sources", "--json").stdout)
        assert [(s["status"], s["disabled"]) for s in listed] == [("disabled", True)]
        on = learnplace(tmp_path, "sources", "enable", url)
        assert on.returncode == 0 and "the next run fetches it" in on.stdout
        assert "disabled" not in (tmp_path / "feeds.toml").read_text(encoding="utf-8")
        application.run(application.Project.at(tmp_path), now=now)
        assert server.hits["/feed.xml"] == 1
    checked = json.loads(learnplace(tmp_path, "sources", "--json").stdout)[0]
    assert checked["status"] == "ok" and checked["last_attempt"] is not None


# What pages and messages say.


def test_links_lose_their_tracking_parameters_whichever_copy_wins() -> None:
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Picks</title>'
        b"<item><title>A pick</title><guid>p-1</guid>"
        b"<link>https://a.example/post?id=3&amp;utm_source=picks&amp;fbclid=x#part</link></item>"
        b"</channel></rss>"
    )
    (entry,) = parse_document(feed, {}, "https://picks.example/feed", "article", None).entries
    assert entry.url == "https://a.example/post?id=3#part"


def test_the_demo_shows_no_tracking_links_and_no_mail_without_smtp(demo_root: Path) -> None:
    found = json.loads(
        learnplace(demo_root, "search", "--source", "Community Picks", "--json").stdout
    )
    assert found["results"] and not [r for r in found["results"] if "utm_" in r["url"]]
    index = (demo_root / "output" / "index.html").read_text(encoding="utf-8")
    assert "E-mailed daily" not in index, "no [smtp] in the demo's feeds.toml"


def test_e_mailed_daily_shows_where_smtp_is_configured(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with serve_static() as server:
        make_project(tmp_path, server.add("/feed.xml", rss(now)), smtp_port=2525)
        application.run(application.Project.at(tmp_path), now=now)
    index = (tmp_path / "output" / "index.html").read_text(encoding="utf-8")
    assert index.count("E-mailed daily") == 2, "alice and bob have an address; carol has none"


def test_sharing_in_no_team_promises_no_team_page(demo_root: Path) -> None:
    result = learnplace(demo_root, "share", "data-engineer", "1", "--note", "for me")
    assert result.returncode == 0, result.stderr
    assert "you are in no team yet" in result.stdout and "team pages now" not in result.stdout


def test_a_same_day_rerun_that_chose_again_is_not_called_kept(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with serve_static() as server:
        good = server.add("/good.xml", rss(now))
        make_project(tmp_path, good)
        with (tmp_path / "feeds.toml").open("a", encoding="utf-8") as feeds:
            feeds.write(f'\n[[source]]\nname = "Other"\nurl = "{server.url("/other.xml")}"\n')
        server.add("/other.xml", rss(now, first=100))
        project = application.Project.at(tmp_path)
        application.run(project, now=now)
        server.add("/other.xml", b"down", status=503)
        later = application.run(project, now=now + timedelta(minutes=5), force=True)
    assert later.failures and not later.kept
    html = (project.output_dir / "alice" / "index.html").read_text(encoding="utf-8")
    said = "1 of 2 sources failed in the last run, so this digest holds only what was collected"
    assert said in html
    assert "kept until they answer again" not in html


def test_the_demo_keeps_the_projects_listed_sources_and_their_history(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with serve_static() as server:
        make_project(tmp_path, server.add("/feed.xml", rss(now)))
        application.run(application.Project.at(tmp_path), now=now)
    before = json.loads(learnplace(tmp_path, "sources", "--json").stdout)
    assert learnplace(tmp_path, "demo", "--quiet").returncode == 0
    after = json.loads(learnplace(tmp_path, "sources", "--json").stdout)
    listed = [s for s in after if s["listed"]]
    assert listed == before, "the demo fetched its samples without hiding the project's sources"
    assert listed[0]["items"] == 7 and listed[0]["last_success"] is not None
    assert page_items(tmp_path / "output" / "alice" / "index.html")
