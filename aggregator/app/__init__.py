"""The application: the daily run, and everything a person can ask of a project.

:class:`Application` is what the interfaces call (``aggregator.cli``, ``aggregator.web``):
they import this package and :mod:`aggregator.models` and :mod:`aggregator.errors`, and
nothing else of Learnplace, so every stage below can change without touching them. The
names below are this package's whole public surface, the presentation helpers the
interfaces need included.

    run.py          the daily run: lock, fetch|parse|store, index, rank, render
    collect.py      fetch, parse and store every due source, each failure that source's
    publish.py      pages, team pages and e-mail from what the store holds
    sources.py      checking a URL before feeds.toml gains it
    search.py       searching, optionally ranked by a person's interests
    demo.py         the bundled samples served on loopback for ``learnplace demo``
    starter.py      a new project's first files (``learnplace init``) and the next steps
    xapi.py         learning records to an organisation's Learning Record Store
    application.py  the object the interfaces hold, keeping the store and index open
"""

from aggregator.app.application import Application, Reading
from aggregator.app.collect import RunSummary
from aggregator.app.project import Project, Reporter, SilentReporter
from aggregator.app.publish import Mailing, failed_note
from aggregator.app.run import refresh, run, run_demo
from aggregator.app.search import SearchRequest, SearchResults
from aggregator.app.sources import AddedSource, ImportReport
from aggregator.app.starter import next_steps
from aggregator.app.xapi import XapiSend
from aggregator.bounds import ESCAPE_SEQUENCE
from aggregator.config.files import MAX_ENTRIES
from aggregator.deliver.sharing import who_sees_it
from aggregator.names import item_type, old_name_note
from aggregator.render.site import (
    event_when,
    make_environment,
    packaged_templates_dir,
    section_order,
)
from aggregator.sanitize import html_to_text as plain_text
from aggregator.search import SEARCH_LIMIT_MAX, SORTS, SearchFilters, highlight
from aggregator.store.copy import CopyReport
from aggregator.urls import is_loopback

__all__ = [
    "ESCAPE_SEQUENCE",
    "MAX_ENTRIES",
    "SEARCH_LIMIT_MAX",
    "SORTS",
    "AddedSource",
    "Application",
    "CopyReport",
    "ImportReport",
    "Mailing",
    "Project",
    "Reading",
    "Reporter",
    "RunSummary",
    "SearchFilters",
    "SearchRequest",
    "SearchResults",
    "SilentReporter",
    "XapiSend",
    "event_when",
    "failed_note",
    "highlight",
    "is_loopback",
    "item_type",
    "make_environment",
    "next_steps",
    "old_name_note",
    "packaged_templates_dir",
    "plain_text",
    "refresh",
    "run",
    "run_demo",
    "section_order",
    "who_sees_it",
]
