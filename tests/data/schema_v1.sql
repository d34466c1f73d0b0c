-- Learnplace store schema version 1 (the first release), frozen: later edits to
-- aggregator/store.py must still upgrade a store made from exactly this.
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
);
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
);
CREATE INDEX items_canonical_url ON items(canonical_url) WHERE canonical_url != '';
CREATE INDEX items_published ON items(published);
CREATE TABLE item_sources (
    item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    PRIMARY KEY (item_id, source_id)
) WITHOUT ROWID;
CREATE INDEX item_sources_source ON item_sources(source_id);
CREATE TABLE deliveries (
    person   TEXT NOT NULL,
    day      TEXT NOT NULL,
    item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    score    REAL NOT NULL,
    reasons  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (person, day, item_id)
) WITHOUT ROWID;
PRAGMA user_version = 1;
