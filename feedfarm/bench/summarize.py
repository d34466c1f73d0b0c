#!/usr/bin/env python3
"""Median table from run_peers.py results.jsonl:  summarize.py WORK/results.jsonl [--faults]"""

import collections, json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
faults = "--faults" in sys.argv
groups = collections.defaultdict(lambda: collections.defaultdict(list))
for r in rows:
    if r.get("fault_mode", r.get("faults") is True) != faults:
        continue
    groups[f"{r['peer']}:{r['n']}"][r["run"]].append(r)
med = lambda xs: statistics.median(xs) if xs else float("nan")
print(
    "| peer | reps | cold wall s | warm wall s | warm2 wall s | cold CPU s | peak RSS MiB (largest proc) | peak PSS MiB (tree) | 304s warm / warm2 | MB sent cold / warm | items stored |"
)
print("|---|---|---|---|---|---|---|---|---|---|---|")
for peer, runs in groups.items():
    c, w, w2 = runs.get("cold", []), runs.get("warm", []), runs.get("warm2", [])
    allr = c + w + w2
    print(
        f"| {peer} | {len(c)} | {med([r['wall_s'] for r in c]):.1f} ({min(r['wall_s'] for r in c):.1f}–{max(r['wall_s'] for r in c):.1f}) "
        f"| {med([r['wall_s'] for r in w]):.1f} | {med([r['wall_s'] for r in w2]):.1f} | {med([r['cpu_s'] for r in c]):.1f} "
        f"| {max(r['maxrss_mib_time'] for r in allr):.0f} | {max(r['tree_pss_peak_mib'] for r in allr):.0f} "
        f"| {med([r['304'] for r in w]):.0f} / {med([r['304'] for r in w2]):.0f} of {med([r['requests'] for r in w]):.0f} "
        f"| {med([r['bytes_sent'] for r in c]) / 1e6:.1f} / {med([r['bytes_sent'] for r in w]) / 1e6:.2f} | {c[-1]['items']} |"
    )
