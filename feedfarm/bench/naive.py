#!/usr/bin/env python3
"""Naive baseline: httpx.AsyncClient, 32 concurrent GETs, feedparser.parse on each body.
--state FILE adds the obvious ETag/Last-Modified cache (conditional GET)."""

import argparse, asyncio, json, os, httpx, feedparser

ap = argparse.ArgumentParser()
ap.add_argument("--urls", required=True)
ap.add_argument("--concurrency", type=int, default=32)
ap.add_argument("--state")
a = ap.parse_args()
urls = [u.strip() for u in open(a.urls) if u.strip()]
state = json.load(open(a.state)) if a.state and os.path.exists(a.state) else {}
res = {"ok": 0, "not_modified": 0, "errors": 0, "entries": 0}


async def one(client, sem, url):
    async with sem:
        hdrs = {
            k: v
            for k, v in (
                ("If-None-Match", state.get(url, {}).get("etag")),
                ("If-Modified-Since", state.get(url, {}).get("lm")),
            )
            if v
        }
        try:
            r = await client.get(url, headers=hdrs)
        except Exception as e:
            res["errors"] += 1
            return
    if r.status_code == 304:
        res["not_modified"] += 1
        return
    if r.status_code != 200:
        res["errors"] += 1
        return
    d = feedparser.parse(r.content)  # CPU-bound, runs on the event loop
    res["ok"] += 1
    res["entries"] += len(d.entries)
    if a.state:
        state[url] = {"etag": r.headers.get("etag"), "lm": r.headers.get("last-modified")}


async def main():
    sem = asyncio.Semaphore(a.concurrency)
    async with httpx.AsyncClient(follow_redirects=True) as client:
        await asyncio.gather(*(one(client, sem, u) for u in urls))


asyncio.run(main())
if a.state:
    json.dump(state, open(a.state, "w"))
print(json.dumps(res))
