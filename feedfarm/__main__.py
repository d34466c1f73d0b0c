"""python3 -m feedfarm {generate,tick,serve,faults} ..."""

import argparse
import json
import os
import sys
import time

from . import corpus, server


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m feedfarm", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write a deterministic corpus")
    g.add_argument("--feeds", type=int, default=500)
    g.add_argument("--items", type=int, default=30)
    g.add_argument("--seed", default="1")
    g.add_argument(
        "--ticks",
        type=int,
        default=0,
        help="advance the corpus this many days (same as generate + tick --days T)",
    )
    g.add_argument("--out", required=True)
    t = sub.add_parser("tick", help="advance an existing corpus by --days days (new items appear)")
    t.add_argument("--dir", required=True)
    t.add_argument("--days", type=int, default=1)
    s = sub.add_parser("serve", help="serve a corpus on 127.0.0.1")
    s.add_argument("--dir", required=True)
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--latency-ms", type=float, default=0)
    s.add_argument("--jitter-ms", type=float, default=0)
    s.add_argument("--drip-s", type=float, default=60, help="duration of /faults/slow-drip")
    s.add_argument(
        "--hang-s", type=float, default=300, help="how long /faults/hang holds a connection"
    )
    s.add_argument("--huge-mib", type=int, default=50)
    s.add_argument(
        "--bomb-mib", type=int, default=1024, help="decompressed size of /faults/gzip-bomb"
    )
    s.add_argument(
        "--lifetime",
        type=float,
        default=0,
        help="stop by itself after this many seconds (0: never)",
    )
    s.add_argument("--log", action="store_true", help="print an access log to stderr")
    sub.add_parser("faults", help="list the fault endpoints")
    a = p.parse_args(argv)

    if a.cmd == "generate":
        os.makedirs(a.out, exist_ok=True)
        t0 = time.time()
        changed = corpus.build(a.out, a.feeds, a.items, a.seed, a.ticks)
        print(
            f"generated {a.feeds} feeds x {a.items} items (day {a.ticks}) in {a.out}: {changed} files written, {time.time() - t0:.1f}s"
        )
    elif a.cmd == "tick":
        changed, day = corpus.tick(a.dir, a.days)
        print(f"{a.dir}: now day {day}, {changed} feed files changed")
    elif a.cmd == "serve":
        server.serve(
            a.dir,
            a.host,
            a.port,
            latency_ms=a.latency_ms,
            jitter_ms=a.jitter_ms,
            drip_s=a.drip_s,
            hang_s=a.hang_s,
            huge_mib=a.huge_mib,
            bomb_mib=a.bomb_mib,
            lifetime=a.lifetime,
            log=a.log,
        )
    elif a.cmd == "faults":
        json.dump({f"/faults/{k}": v[1] for k, v in server.FAULTS.items()}, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    main()
