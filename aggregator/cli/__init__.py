"""The ``learnplace`` command line; each module registers one group of commands on :data:`cli`."""

from aggregator.cli import core, search, serve
from aggregator.cli.app import cli, main

__all__ = ["cli", "core", "main", "search", "serve"]
