#!/usr/bin/env python3
"""Parse every corpus feed from memory with one library; print items/s.  --lib feedparser|fastfeedparser|feedparser_rs"""

import argparse, collections, json, time

ap = argparse.ArgumentParser()
ap.add_argument("--corpus", required=True)
ap.add_argument("--lib", required=True)
ap.add_argument("--repeat", type=int, default=1)
a = ap.parse_args()
mod = __import__(a.lib)
meta = json.load(open(f"{a.corpus}/feeds.json"))
docs = [(f["format"], open(f"{a.corpus}{f['path']}", "rb").read()) for f in meta]
per = collections.Counter()
errs = collections.Counter()
n = 0
t0 = time.perf_counter()
for _ in range(a.repeat):
    for fmt, body in docs:
        try:
            d = mod.parse(body)
            k = len(d["entries"])
        except Exception as e:
            errs[f"{fmt}:{type(e).__name__}"] += 1
            k = 0
        per[fmt] += k
        n += k
el = time.perf_counter() - t0
print(
    json.dumps(
        {
            "lib": a.lib,
            "version": getattr(mod, "__version__", "?"),
            "files": len(docs) * a.repeat,
            "mb": round(sum(len(b) for _, b in docs) * a.repeat / 1e6, 1),
            "seconds": round(el, 2),
            "items": n,
            "items_per_s": round(n / el),
            "files_per_s": round(len(docs) * a.repeat / el, 1),
            "items_by_format": dict(per),
            "errors": dict(errs),
        }
    )
)
