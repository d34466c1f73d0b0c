"""The `learnplace` command end to end, against feedfarm's server on 127.0.0.1.

Runs the real CLI in a subprocess on a project folder made for the test:
feedfarm's corpus feeds plus its XSS and 404 fault feeds, and profiles built
from the corpus' own topic vocabulary so relevance can be checked against its
ground truth (truth.jsonl).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import feedparser
import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator import app as application
from aggregator.config.files import load_profiles
from aggregator.models import Digest
from aggregator.rank import daily
from aggregator.search import open_index
from aggregator.store import open_store
from feedfarm.vocab import TOPICS
from tests.cli import learnplace
from tests.conftest import BACKENDS
from tests.stores import project_database, rows

if TYPE_CHECKING:
    from tests.conftest import FeedfarmServer

REPO = Path(__file__).resolve().parents[2]


def truth(corpus: Path) -> list[dict]:
    lines = (corpus / "truth.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def pick_topics(corpus: Path, count: int) -> list[str]:
    """The corpus' most common primary topics: each has enough items for a digest."""
    tally: dict[str, int] = {}
    for row in truth(corpus):
        if row["in_window"]:
            tally[row["topics"][0]] = tally.get(row["topics"][0], 0) + 1
    return sorted(tally, key=lambda topic: (-tally[topic], topic))[:count]


def profile_toml(topic: str) -> str:
    label, keywords = TOPICS[topic]
    interests = "\n".join(f'"{word}" = {3 if i == 0 else 1}' for i, word in enumerate(keywords))
    return (
        f'name = "{label} fan"\ndigest_size = 10\n'
        f"freshness_days = 3650  # the corpus is dated September 2026\n\n"
        f"[interests]\n{interests}\n"
    )


@pytest.fixture(scope="module", params=BACKENDS)
def project(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    feedfarm_server: FeedfarmServer,
    feedfarm_corpus: Path,
) -> Iterator[tuple[Path, list[str], dict]]:
    """A project run once on each store backend; yields (folder, topics, first run's JSON
    summary)."""
    with project_database(request.param, request) as store_table:
        yield _run_project(tmp_path_factory, feedfarm_server, feedfarm_corpus, store_table)


def _run_project(
    tmp_path_factory: pytest.TempPathFactory,
    feedfarm_server: FeedfarmServer,
    feedfarm_corpus: Path,
    store_table: str,
) -> tuple[Path, list[str], dict]:
    root = tmp_path_factory.mktemp("project")
    feeds = json.loads((feedfarm_corpus / "feeds.json").read_text(encoding="utf-8"))
    sources = [
        f'[[source]]\nname = "{feed["title"]}"\nurl = "{feedfarm_server.url(feed["path"])}"\n'
        for feed in feeds
    ]
    sources.append(f'[[source]]\nname = "Hostile"\nurl = "{feedfarm_server.url("/faults/xss")}"\n')
    sources.append(f'[[source]]\nname = "Gone"\nurl = "{feedfarm_server.url("/faults/404")}"\n')
    (root / "feeds.toml").write_text(
        "[settings]\nallow_private_networks = true\ntimeout = 5\ndeadline = 10\n\n"
        + "\n".join(sources)
        + store_table,
        encoding="utf-8",
    )
    (root / "profiles").mkdir()
    topics = pick_topics(feedfarm_corpus, 2)
    for topic in topics:
        (root / "profiles" / f"{topic}.toml").write_text(profile_toml(topic), encoding="utf-8")
    (root / "profiles" / "tester.toml").write_text(
        'name = "Tester"\nfreshness_days = 3650\n\n[interests]\n'
        'script = 1\nclick = 1\nimage = 1\nsvg = 1\nstyled = 1\nhover = 1\n"data link" = 1\n',
        encoding="utf-8",
    )
    feedfarm_server.reset()
    result = learnplace(root, "run", "--json")
    assert result.returncode == 0, result.stderr
    return root, topics, json.loads(result.stdout)


def delivered(root: Path, person: str) -> list[int]:
    sql = "SELECT item_id FROM deliveries WHERE person = ? ORDER BY day, position"
    return [row[0] for row in rows(root, sql, (person,))]


def item_links(root: Path, ids: list[int]) -> list[str]:
    links = dict(rows(root, "SELECT id, url FROM items"))
    return [links[item_id] for item_id in ids]


def test_run_reports_sources_and_writes_every_page(project: tuple[Path, list[str], dict]) -> None:
    root, topics, summary = project
    assert summary["sources_ok"] == 13  # 12 feeds + the XSS feed
    assert [failure["source"] for failure in summary["failed"]] == ["Gone"]
    assert "404" in summary["failed"][0]["error"]
    assert summary["new_items"] >= 100
    people = sorted([*topics, "tester"])
    assert sorted(d["person"] for d in summary["digests"]) == people
    output = root / "output"
    assert (output / "index.html").is_file()
    assert (output / "style.css").is_file()
    for person in people:
        assert (output / person / "index.html").is_file()
        assert list((output / person).glob("20??-??-??.html"))
        assert (output / person / "feed.xml").is_file()
    site = (output / "index.html").read_text(encoding="utf-8")
    for person in people:
        assert f"{person}/feed.xml" in site


def test_digests_rank_matching_items_first(
    project: tuple[Path, list[str], dict], feedfarm_corpus: Path
) -> None:
    """Each profile's top picks are about its topic, and more so than the other profile's."""
    root, topics, _ = project
    topic_of = {row["link"]: row["topics"] for row in truth(feedfarm_corpus)}
    for topic in topics:
        other = next(t for t in topics if t != topic)
        mine = [topic_of.get(link, []) for link in item_links(root, delivered(root, topic))]
        theirs = [topic_of.get(link, []) for link in item_links(root, delivered(root, other))]
        assert len(mine) == 10
        on_topic = [topic in topics_ for topics_ in mine]
        assert sum(on_topic[:5]) >= 4, (topic, mine)
        assert sum(on_topic) > sum(topic in topics_ for topics_ in theirs)
        # Matching items come before the ones that are not about the topic.
        first_off = on_topic.index(False) if False in on_topic else len(on_topic)
        assert sum(on_topic[first_off:]) <= 2


def test_digest_page_shows_the_picks(project: tuple[Path, list[str], dict]) -> None:
    root, topics, _ = project
    titles = dict(rows(root, "SELECT id, title FROM items"))
    page = LexborHTMLParser((root / "output" / topics[0] / "index.html").read_text("utf-8"))
    links = {node.text(strip=True) for node in page.css("main a")}
    main_text = page.css_first("main").text()
    for item_id in delivered(root, topics[0]):
        # An item whose link is unsafe (javascript:) is shown without a link.
        assert titles[item_id] in links or titles[item_id] in main_text


def test_feed_html_arrives_sanitized_and_escaped(project: tuple[Path, list[str], dict]) -> None:
    root, _, _ = project
    assert len(delivered(root, "tester")) >= 5
    for page in (root / "output" / "tester").glob("[0-9]*.html"):
        html = page.read_text(encoding="utf-8")
        tree = LexborHTMLParser(html)
        assert not tree.css("script, iframe, object, embed, form, svg, base, style")
        for node in tree.css("*"):
            for name, value in node.attributes.items():
                assert not name.lower().startswith("on"), (page, node.tag, name)
                assert "javascript:" not in (value or "").lower(), (page, node.tag, value)
        assert "<script" not in html.lower()
        assert "&lt;script&gt;" in html or "Script in title" in html


def test_atom_feeds_parse_without_bozo(project: tuple[Path, list[str], dict]) -> None:
    root, topics, _ = project
    for person in [*topics, "tester"]:
        parsed = feedparser.parse((root / "output" / person / "feed.xml").read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert parsed.version == "atom10"
        assert len(parsed.entries) == len(delivered(root, person))
        assert all(entry.id.startswith("urn:learnplace:item:") for entry in parsed.entries)


def test_rerun_is_answered_with_304s_and_duplicates_nothing(
    project: tuple[Path, list[str], dict], feedfarm_server: FeedfarmServer
) -> None:
    root, topics, _ = project
    before = rows(root, "SELECT count(*) FROM items")[0][0]
    picks_before = {person: delivered(root, person) for person in topics}
    feedfarm_server.reset()
    result = learnplace(root, "run", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    stats = feedfarm_server.stats()
    assert stats["304"] >= 12  # every corpus feed answered "not modified"
    assert summary["not_modified"] >= 12
    assert summary["new_items"] == 0
    assert rows(root, "SELECT count(*) FROM items")[0][0] == before
    # The same day's digest is updated in place, not appended to.
    assert {person: delivered(root, person) for person in topics} == picks_before


def test_search_finds_title_and_summary_words(project: tuple[Path, list[str], dict]) -> None:
    root, _, _ = project
    item_id, title, text = rows(
        root, "SELECT id, title, text FROM items WHERE length(text) > 80 ORDER BY id LIMIT 1"
    )[0]
    title_word = max(re.findall(r"[A-Za-z]{5,}", title), key=len)
    result = learnplace(root, "search", "--json", title_word)
    assert result.returncode == 0, result.stderr
    assert item_id in [row["id"] for row in json.loads(result.stdout)["results"]]
    summary_only = [w for w in re.findall(r"[A-Za-z]{6,}", text) if w.lower() not in title.lower()]
    result = learnplace(root, "search", "--json", "--limit", "100", summary_only[0])
    assert item_id in [row["id"] for row in json.loads(result.stdout)["results"]]
    table = learnplace(root, "search", title_word)
    assert title_word.lower() in table.stdout.lower()


def test_malformed_search_is_a_clear_error(project: tuple[Path, list[str], dict]) -> None:
    root, _, _ = project
    result = learnplace(root, "search", 'title:"unclosed')
    assert result.returncode in (0, 1)
    assert "Traceback" not in result.stderr


def test_bad_profile_stops_the_run_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "feeds.toml").write_text(
        '[[source]]\nname = "X"\nurl = "http://127.0.0.1:9/feed"\n', encoding="utf-8"
    )
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "ada.toml").write_text(
        "[interests]\nonboarding = 1\n\n[types]\ncorses = 2\n", encoding="utf-8"
    )
    result = learnplace(tmp_path, "run")
    assert result.returncode == 1
    assert "ada.toml:5: types.corses: unknown item type 'corses'; did you mean 'course'?" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()
    assert not (tmp_path / "output").exists()


def test_many_profiles_ranked_in_worker_processes_get_the_same_digests(
    project: tuple[Path, list[str], dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _, _ = project
    profiles = load_profiles(root / "profiles") * 3
    now = datetime.now(UTC)
    state = application.Project.at(root)
    with (
        open_store(state.store_location, read_only=True) as store,
        open_index(state.index_location) as index,
    ):
        monkeypatch.setattr(daily, "PARALLEL_MIN_PROFILES", len(profiles) + 1)
        here = list(daily.choose_digests(store, index, profiles, now))
        monkeypatch.setattr(daily, "PARALLEL_MIN_PROFILES", 2)
        in_workers = list(daily.choose_digests(store, index, profiles, now))

    def chosen(digests: list[Digest]) -> list[tuple[str, list[tuple[int, float]]]]:
        return [
            (d.profile.name, [(p.item.id, round(p.score, 9)) for p in d.picks]) for d in digests
        ]

    assert chosen(in_workers) == chosen(here)
    assert all(digest.picks for digest in here[:2])


@pytest.mark.parametrize(
    "command",
    [
        ("search", "python"),
        ("prune", "--older-than", "30d"),
        ("reindex",),
        ("item", "set-type", "1", "course"),
        ("share", "ana", "1", "--note", "worth a look"),
    ],
)
def test_commands_before_the_first_run_say_so_and_create_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    _nothing_collected_yet(tmp_path, command, "")


@pytest.mark.parametrize("command", [("search", "python"), ("share", "ana", "1", "--note", "x")])
def test_commands_before_the_first_run_on_postgresql_create_no_tables(
    tmp_path: Path, command: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    """An empty database is no store yet: the command says so and migrates nothing into it."""
    with project_database("postgres", request) as store_table:
        _nothing_collected_yet(tmp_path, command, store_table)
        assert rows(tmp_path, "SELECT to_regclass('learnplace_schema')") == [(None,)]


def _nothing_collected_yet(root: Path, command: tuple[str, ...], feeds: str) -> None:
    (root / "feeds.toml").write_text(feeds, encoding="utf-8")
    (root / "profiles").mkdir()
    (root / "profiles" / "ana.toml").write_text("[interests]\npython = 1\n", encoding="utf-8")
    result = learnplace(root, *command)
    assert result.returncode == 1, result.stderr
    assert f"nothing collected yet in {root}: run `learnplace run`" in result.stderr
    assert not (root / "state").exists()
