"""The ``learnplace`` command line; each module registers one group of commands on :data:`cli`."""

from aggregator.cli import (
    core,
    digest,
    items,
    learning,
    maintenance,
    profiles,
    search,
    serve,
    sources,
    store,
    xapi,
)
from aggregator.cli.app import cli, main

__all__ = [
    "cli",
    "core",
    "digest",
    "items",
    "learning",
    "main",
    "maintenance",
    "profiles",
    "search",
    "serve",
    "sources",
    "store",
    "xapi",
]
