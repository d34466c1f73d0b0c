"""The store's domains in SQL that SQLite and PostgreSQL both run, over a backend's connection.

    base         what a backend's connection provides, and the store boundary (guarded)
    codec        how values are written and read back: datetimes, details, whole items
    sources      sources and their fetch state, a run's outcomes
    entries      a feed's entries written as items
    items        reading, correcting and pruning items
    index_queue  the change-tracking contract with the search index
    digests, feedback, shares, mailings

Each domain is a mixin over :class:`~.base.Connection`; :mod:`aggregator.store.sqlite` and
:mod:`aggregator.store.postgres` compose them with their own connection and migrations.
"""
