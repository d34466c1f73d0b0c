#!/usr/bin/env python3
"""Compare what a parser returns with truth.jsonl: entries found, ids, titles, dates, enclosures, tags,
and what its HTML sanitizer leaves of /faults/xss.  --lib feedparser|fastfeedparser|feedparser_rs"""

import argparse, calendar, collections, datetime as dt, json, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--corpus", required=True)
ap.add_argument("--lib", required=True)
ap.add_argument("--xss-url", help="e.g. http://127.0.0.1:8765/faults/xss")
a = ap.parse_args()
mod = __import__(a.lib)
meta = json.load(open(f"{a.corpus}/feeds.json"))
truth = collections.defaultdict(dict)
for line in open(f"{a.corpus}/truth.jsonl"):
    r = json.loads(line)
    if r["in_window"]:
        truth[r["feed"]][r["id"]] = r
c = collections.Counter()


def g(e, k):
    try:
        return e.get(k)
    except Exception:
        return None


def when(e):
    p = g(e, "published_parsed") or g(e, "updated_parsed")
    if p:
        return calendar.timegm(p)
    s = g(e, "published") or g(e, "updated")
    try:
        return dt.datetime.fromisoformat(s).timestamp()
    except Exception:
        return None


for f in meta:
    d = mod.parse(open(f"{a.corpus}{f['path']}", "rb").read())
    exp = truth[f["path"]]
    c["expected"] += len(exp)
    for e in d["entries"]:
        c["entries"] += 1
        t = exp.get(g(e, "id")) or next(
            (x for x in exp.values() if x["link"] == g(e, "link")), None
        )
        if not t:
            continue
        c["matched_by_id_or_link"] += 1
        c["id_equal"] += g(e, "id") == t["id"]
        c["link_equal"] += g(e, "link") == t["link"]
        c["title_equal"] += g(e, "title") == t["title"]
        w = when(e)
        c["date_within_1s"] += (
            w is not None and abs(w - dt.datetime.fromisoformat(t["published"]).timestamp()) <= 1
        )
        if t["type"] == "podcast":
            c["podcasts"] += 1
            c["podcast_enclosure"] += bool(
                g(e, "enclosures")
                or [l for l in (g(e, "links") or []) if g(l, "rel") == "enclosure"]
            )
        c["has_tags"] += bool(g(e, "tags"))
out = {"lib": a.lib, **c}
if a.xss_url:
    d = mod.parse(urllib.request.urlopen(a.xss_url).read())
    blob = json.dumps(
        [
            {k: str(g(e, k)) for k in ("title", "link", "summary", "description", "content")}
            for e in d["entries"]
        ]
    )
    out["xss_left"] = {
        p: blob.count(p)
        for p in [
            "<script",
            "javascript:",
            "onerror",
            "onload",
            "onclick",
            "expression(",
            "<iframe",
            "data:text/html",
            "<meta",
            "<style",
        ]
    }
print(json.dumps(out))
