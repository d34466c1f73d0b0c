#!/usr/bin/env python3
"""After a --faults run: what did each peer store for each fault feed, and did XSS payloads survive?
inspect_faults.py PEER STATE_DIR   (PEER: reader | newsboat | sfeed | feed2exec)   stdlib only."""

import email, glob, json, os, sqlite3, sys

FAULTS = [
    "slow-drip",
    "hang",
    "500",
    "503",
    "429",
    "404",
    "410",
    "301",
    "302",
    "redirect-loop",
    "redirect-scheme",
    "huge",
    "gzip-bomb",
    "malformed",
    "wrong-charset",
    "autodiscovery",
    "html-no-feed",
    "empty",
    "xss",
]
PAYLOADS = [
    "<script",
    "javascript:",
    "onerror",
    "onload",
    "onclick",
    "expression(",
    "<iframe",
    "data:text/html",
    "<meta",
    "<base",
    "<form",
]
peer, state = sys.argv[1], sys.argv[2]
out = {}


def summarize(name, rows):  # rows: list of (title, link, content)
    out[name] = {"items": len(rows)}
    if name == "xss":
        blob = json.dumps(rows)
        out[name]["payloads_left"] = {p: blob.count(p) for p in PAYLOADS if blob.count(p)}
        out[name]["links"] = sorted(
            {r[1] for r in rows if r[1] and not r[1].startswith("https://faults.example/xss")}
        )
    if name == "wrong-charset":
        out[name]["titles"] = [r[0] for r in rows]
    if name in ("malformed", "301", "302", "autodiscovery"):
        out[name]["titles"] = [r[0] for r in rows][:3]


if peer.startswith("reader"):
    db = sqlite3.connect(glob.glob(f"{state}/*.sqlite")[0])
    for f in FAULTS:
        url = next(
            (u for (u,) in db.execute("select url from feeds") if u.endswith(f"/faults/{f}")), None
        )
        rows = [
            (t, l, (s or "") + (c or ""))
            for t, l, s, c in db.execute(
                "select title, link, summary, content from entries where feed=?", (url,)
            )
        ]
        summarize(f, rows)
        fe = db.execute(
            "select url, update_after, updates_enabled, last_exception from feeds where url=?",
            (url,),
        ).fetchone()
        out[f]["feed_row"] = {
            "url": fe[0][-30:],
            "update_after": fe[1],
            "updates_enabled": fe[2],
            "last_exception": (json.loads(fe[3]).get("type_name") if fe[3] else None),
        }
elif peer == "newsboat":
    db = sqlite3.connect(f"{state}/cache.db")
    db.text_factory = lambda b: b.decode("utf-8", "replace")  # newsboat may store invalid UTF-8
    for f in FAULTS:
        rows = db.execute(
            "select title, url, content from rss_item where feedurl like ?", (f"%/faults/{f}",)
        ).fetchall()
        summarize(f, rows)
elif peer.startswith("sfeed"):
    for i, f in enumerate(FAULTS):
        p = f"{state}/feeds/f{i:04d}"
        rows = (
            [
                tuple((line.rstrip("\n").split("\t") + [""] * 4)[1:4])
                for line in open(p, errors="replace")
            ]
            if os.path.exists(p)
            else []
        )
        rows = [(t, l, c) for t, l, c in rows]
        summarize(f, rows)
elif peer == "feed2exec":
    for i, f in enumerate(FAULTS):
        rows = []
        for m in glob.glob(f"{state}/Maildir/f{i:04d}/*/*"):
            msg = email.message_from_binary_file(open(m, "rb"))
            body = " ".join(
                str(part.get_payload(decode=True), "utf-8", "replace")
                for part in msg.walk()
                if not part.is_multipart()
            )
            rows.append(
                (
                    str(email.header.make_header(email.header.decode_header(msg["Subject"] or ""))),
                    "",
                    body,
                )
            )
        summarize(f, rows)
print(json.dumps(out, ensure_ascii=False))
