"""The SQLite schema as its numbered migrations: the only statement of the database layout.

A database records its version in ``PRAGMA user_version``; :mod:`.connection` runs the
migrations it lacks in one transaction when a writer opens it, so a store written by any
earlier release opens with its data. Readers never migrate (see ``SqliteStore``).
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # Version 1: the initial schema.
    (
        """
        CREATE TABLE sources (
            id            INTEGER PRIMARY KEY,
            url           TEXT NOT NULL UNIQUE,
            name          TEXT NOT NULL,
            kind          TEXT NOT NULL,
            etag          TEXT,
            last_modified TEXT,
            last_status   INTEGER,
            last_error    TEXT,
            last_success  TEXT,
            failures      INTEGER NOT NULL DEFAULT 0,
            active        INTEGER NOT NULL DEFAULT 1
        )
        """,
        """
        CREATE TABLE items (
            id             INTEGER PRIMARY KEY,
            source_id      INTEGER NOT NULL REFERENCES sources(id),
            guid           TEXT NOT NULL,
            url            TEXT NOT NULL,
            canonical_url  TEXT NOT NULL,
            title          TEXT NOT NULL,
            summary        TEXT NOT NULL,
            content        TEXT NOT NULL,
            text           TEXT NOT NULL,
            published      TEXT NOT NULL,
            first_seen     TEXT NOT NULL,
            item_type      TEXT NOT NULL,
            tags           TEXT NOT NULL DEFAULT '[]',
            author         TEXT NOT NULL DEFAULT '',
            enclosure_url  TEXT NOT NULL DEFAULT '',
            enclosure_type TEXT NOT NULL DEFAULT '',
            UNIQUE (source_id, guid)
        )
        """,
        "CREATE INDEX items_canonical_url ON items(canonical_url) WHERE canonical_url != ''",
        "CREATE INDEX items_published ON items(published)",
        """
        CREATE TABLE item_sources (
            item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            PRIMARY KEY (item_id, source_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX item_sources_source ON item_sources(source_id)",
        """
        CREATE TABLE deliveries (
            person   TEXT NOT NULL,
            day      TEXT NOT NULL,
            item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            score    REAL NOT NULL,
            reasons  TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (person, day, item_id)
        ) WITHOUT ROWID
        """,
    ),
    # Version 2: what an item is beyond its text (event time, duration, course provider) as
    # JSON, a person's own choice of type, and the digests' "Upcoming" events apart from picks.
    (
        "ALTER TABLE items ADD COLUMN details TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE items ADD COLUMN type_override TEXT",
        "ALTER TABLE deliveries ADD COLUMN upcoming INTEGER NOT NULL DEFAULT 0",
    ),
    # Version 3: shares with colleagues, and the e-mail log that stops a second send a day.
    (
        """
        CREATE TABLE shares (
            id        INTEGER PRIMARY KEY,
            person    TEXT NOT NULL,
            item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            note      TEXT NOT NULL DEFAULT '',
            shared_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX shares_shared_at ON shares(shared_at)",
        """
        CREATE TABLE mailings (
            person   TEXT NOT NULL,
            day      TEXT NOT NULL,
            sent_at  TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error    TEXT,
            PRIMARY KEY (person, day)
        ) WITHOUT ROWID
        """,
    ),
    # Version 4: a person's judgements of items (``learnplace feedback``); one per item, so a
    # new judgement replaces the old one and clearing it deletes the row.
    (
        """
        CREATE TABLE feedback (
            person   TEXT NOT NULL,
            item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            judgement INTEGER NOT NULL CHECK (judgement IN (-1, 1)),
            at       TEXT NOT NULL,
            PRIMARY KEY (person, item_id)
        ) WITHOUT ROWID
        """,
    ),
    # Version 5: per-source fetch schedule, permanent moves and parse problems (issue 3).
    (
        "ALTER TABLE sources ADD COLUMN fetch_url TEXT",
        "ALTER TABLE sources ADD COLUMN moved_from TEXT",
        "ALTER TABLE sources ADD COLUMN next_attempt TEXT",
        "ALTER TABLE sources ADD COLUMN retired INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sources ADD COLUMN problems TEXT NOT NULL DEFAULT '[]'",
        # Near-duplicate titles (aggregator.dedupe); items stored before stay unkeyed.
        "ALTER TABLE items ADD COLUMN title_key TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX items_title_key ON items(title_key) WHERE title_key != ''",
    ),
    # Version 6: items whose search-index entry is out of date (issue 8). Written in the same
    # transaction as the item change and cleared only after the index commit, so a crash
    # between store and index is repaired by the next run. No foreign key: a pruned item's id
    # stays queued until its index entry is deleted too.
    ("CREATE TABLE index_queue (item_id INTEGER PRIMARY KEY)",),
    # Version 7: events by their time (issue 16). An event's start and end as columns, for
    # Upcoming by event time and for telling a series' occurrences apart across sources;
    # whether the source dated an item (an undated one was given the time it was first seen,
    # which is what marks those stored before); and when a calendar source must next be read
    # in full, so its recurring series stay expanded over the horizon through 304s.
    (
        "ALTER TABLE items ADD COLUMN event_start TEXT",
        "ALTER TABLE items ADD COLUMN event_end TEXT",
        """
        UPDATE items SET event_start = json_extract(details, '$.event_start'),
                         event_end = json_extract(details, '$.event_end')
        WHERE details != '{}'
        """,
        "CREATE INDEX items_event_start ON items(event_start) WHERE event_start IS NOT NULL",
        "ALTER TABLE items ADD COLUMN dated INTEGER NOT NULL DEFAULT 1",
        "UPDATE items SET dated = 0 WHERE published = first_seen",
        "ALTER TABLE sources ADD COLUMN reread_at TEXT",
    ),
    ("ALTER TABLE sources ADD COLUMN last_attempt TEXT",),
    # Version 9: learning (issue 18). A person's own "I learned this" records, one per person
    # and item (private unless shared), and the digest sections beyond picks and Upcoming
    # (each saved search's, by name), kept so a page rewritten later shows what it showed.
    (
        """
        CREATE TABLE learned (
            person     TEXT NOT NULL,
            item_id    INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            learned_at TEXT NOT NULL,
            minutes    INTEGER CHECK (minutes IS NULL OR minutes >= 0),
            note       TEXT NOT NULL DEFAULT '',
            shared     INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (person, item_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX learned_at ON learned(learned_at)",
        """
        CREATE TABLE digest_sections (
            person   TEXT NOT NULL,
            day      TEXT NOT NULL,
            section  TEXT NOT NULL,
            position INTEGER NOT NULL,
            item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            score    REAL NOT NULL,
            reasons  TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (person, day, section, position)
        ) WITHOUT ROWID
        """,
    ),
    # Version 10: which learning records a Learning Record Store has taken as xAPI
    # statements (issue 18), per LRS endpoint, so each is sent once and a failed send is
    # tried again by the next ``learnplace xapi send``.
    (
        """
        CREATE TABLE xapi_sent (
            endpoint     TEXT NOT NULL,
            person       TEXT NOT NULL,
            item_id      INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            statement_id TEXT NOT NULL,
            sent_at      TEXT NOT NULL,
            PRIMARY KEY (endpoint, person, item_id)
        ) WITHOUT ROWID
        """,
    ),
)
"""``MIGRATIONS[n]`` takes the schema from version ``n`` to ``n + 1``; append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)
