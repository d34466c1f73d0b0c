"""``python -m aggregator`` is the same as the ``learnplace`` command."""

from aggregator.cli import main

main()
