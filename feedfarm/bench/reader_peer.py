#!/usr/bin/env python3
"""Drive lemon24/reader: add feeds (first run), update_feeds(workers=N), optional search timing."""

import argparse, json, time
from reader import make_reader

ap = argparse.ArgumentParser()
ap.add_argument("--db", required=True)
ap.add_argument("--urls", required=True)
ap.add_argument("--workers", type=int, default=16)
ap.add_argument(
    "--scheduled", action="store_true", help="reader's default: only feeds that are due"
)
ap.add_argument("--search", action="store_true", help="enable + update search, time some queries")
ap.add_argument("--report", action="store_true", help="print per-feed status (for fault runs)")
ap.add_argument(
    "--skip-update", action="store_true", help="only search/report on an existing database"
)
a = ap.parse_args()
r = make_reader(a.db)
t0 = time.monotonic()
known = {f.url for f in r.get_feeds()}
for u in (u.strip() for u in open(a.urls)):
    if u and u not in known:
        r.add_feed(u)
t1 = time.monotonic()
if not a.skip_update:
    r.update_feeds(workers=a.workers, scheduled=a.scheduled)
t2 = time.monotonic()
out = {
    "add_s": round(t1 - t0, 2),
    "update_s": round(t2 - t1, 2),
    "entries": r.get_entry_counts().total,
    "feeds": r.get_feed_counts().total,
    "broken": r.get_feed_counts(broken=True).total,
}
if a.search:
    r.enable_search()
    t3 = time.monotonic()
    r.update_search()
    out["update_search_s"] = round(time.monotonic() - t3, 2)
    out["queries"] = {}
    for q in [
        "python",
        "machine learning",
        "salary negotiation",
        "WCAG accessibility",
        "kubernetes webinar",
        "coaching feedback",
    ]:
        t4 = time.monotonic()
        hits = list(r.search_entries(q, limit=50))
        total = r.search_entry_counts(q).total
        out["queries"][q] = {
            "ms_top50": round((time.monotonic() - t4) * 1000, 1),
            "total_hits": total,
        }
if a.report:
    out["feeds_detail"] = [
        {
            "url": f.url,
            "entries": r.get_entry_counts(feed=f).total,
            "updates_enabled": f.updates_enabled,
            "update_after": str(getattr(f, "update_after", None)),
            "error": (f.last_exception.type_name + ": " + f.last_exception.value_str[:120])
            if f.last_exception
            else None,
        }
        for f in r.get_feeds()
        if "/faults/" in f.url
    ]
r.close()
print(json.dumps(out))
