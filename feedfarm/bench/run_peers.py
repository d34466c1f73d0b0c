#!/usr/bin/env python3
"""Run peer feed readers against a feedfarm server: cold run (empty state), then warm run.

  python3 feedfarm/bench/run_peers.py --corpus DIR --work DIR --py VENV/bin/python \
      --peers reader:16,newsboat:32,sfeed:16,sfeed-etag:16,feed2exec:2,naive:32,naive-cond:32 [--faults]

Starts `python3 -m feedfarm serve` itself (from the folder above the package), writes one JSON
line per run to WORK/results.jsonl.  stdlib only; each peer needs its own tool installed.
"""

import argparse, glob, json, os, shutil, sqlite3, subprocess, sys, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_PARENT = os.path.dirname(os.path.dirname(HERE))
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


def sh(cmd, **kw):
    return subprocess.run(
        cmd, shell=isinstance(cmd, str), check=True, capture_output=True, text=True, **kw
    ).stdout


def setup(peer, n, state, urls, py):
    """Return the command (list) for one run of this peer; create its config in `state`."""
    os.makedirs(state, exist_ok=True)
    if peer == "reader":
        return [
            py,
            f"{HERE}/reader_peer.py",
            "--db",
            f"{state}/reader.sqlite",
            "--urls",
            urls,
            "--workers",
            str(n),
            "--report",
        ]
    if peer == "reader-scheduled":
        return [
            py,
            f"{HERE}/reader_peer.py",
            "--db",
            f"{state}/reader.sqlite",
            "--urls",
            urls,
            "--workers",
            str(n),
            "--scheduled",
        ]
    if peer == "newsboat":
        with open(f"{state}/config", "w") as fh:
            fh.write(f"reload-threads {n}\n")
        return [
            "newsboat",
            "-x",
            "reload",
            "-u",
            urls,
            "-c",
            f"{state}/cache.db",
            "-C",
            f"{state}/config",
        ]
    if peer in ("sfeed", "sfeed-etag"):
        os.makedirs(f"{state}/feeds", exist_ok=True)
        os.makedirs(f"{state}/etags", exist_ok=True)
        lines = [f'sfeedpath="{state}/feeds"', f"maxjobs={n}", "feeds() {"]
        lines += [f'\tfeed "f{i:04d}" "{u.strip()}"' for i, u in enumerate(open(urls)) if u.strip()]
        lines.append("}")
        if peer == "sfeed-etag":  # the conditional-GET fetch() override pattern from sfeed's README
            lines.append(
                'fetch() {\n\tetag="'
                + state
                + '/etags/$(basename "$3")"\n\tcurl -L --max-redirs 0 -H "User-Agent:" -f -s -m 15 '
                '--compressed --etag-save "${etag}" --etag-compare "${etag}" -z "${etag}" "$2" 2>/dev/null\n}'
            )
        with open(f"{state}/sfeedrc", "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return ["sfeed_update", f"{state}/sfeedrc"]
    if peer == "feed2exec":
        with open(f"{state}/feed2exec.ini", "w") as fh:
            fh.write(
                f"[DEFAULT]\noutput = feed2exec.plugins.maildir\nmailbox = {state}/Maildir\n\n"
            )
            for i, u in enumerate(open(urls)):
                if u.strip():
                    fh.write(f"[f{i:04d}]\nurl = {u.strip()}\n\n")
        par = ["-j", str(n)] if n > 1 else []
        return [
            "/usr/bin/python3",
            "-m",
            "feed2exec",
            "--config",
            f"{state}/feed2exec.ini",
            "--database",
            f"{state}/feed2exec.db",
            "fetch",
        ] + par
    if peer == "naive":
        return [py, f"{HERE}/naive.py", "--urls", urls, "--concurrency", str(n)]
    if peer == "naive-cond":
        return [
            py,
            f"{HERE}/naive.py",
            "--urls",
            urls,
            "--concurrency",
            str(n),
            "--state",
            f"{state}/etags.json",
        ]
    raise SystemExit(f"unknown peer {peer}")


def count_items(peer, state, log):
    try:
        if peer.startswith("reader") or peer.startswith("naive"):
            return json.loads(open(log).read().strip().splitlines()[-1])["entries"]
        if peer == "newsboat":
            return (
                sqlite3.connect(f"{state}/cache.db")
                .execute("select count(*) from rss_item")
                .fetchone()[0]
            )
        if peer.startswith("sfeed"):
            return sum(sum(1 for _ in open(f, "rb")) for f in glob.glob(f"{state}/feeds/*"))
        if peer == "feed2exec":
            return (
                sqlite3.connect(f"{state}/feed2exec.db")
                .execute("select count(*) from feedcache")
                .fetchone()[0]
            )
    except Exception as e:
        return f"? {type(e).__name__}: {e}"[:100]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--py", default=sys.executable, help="python with reader/httpx/feedparser")
    ap.add_argument("--peers", required=True, help="peer:N,...  N = workers/threads/jobs")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument(
        "--faults",
        action="store_true",
        help="add the /faults/ endpoints as extra feeds (first in the list)",
    )
    ap.add_argument("--skip-faults", default="", help="comma-separated fault names to leave out")
    ap.add_argument(
        "--runs",
        default="cold,warm",
        help="cold,warm,... ; 'tick' advances the corpus a day, 'reset' regenerates day 0",
    )
    ap.add_argument("--seed", default="1", help="for 'reset': the corpus seed")
    ap.add_argument("--items", type=int, default=30, help="for 'reset': items per feed")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    base = f"http://127.0.0.1:{a.port}"
    os.makedirs(a.work, exist_ok=True)
    srv = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "feedfarm",
            "serve",
            "--dir",
            a.corpus,
            "--port",
            str(a.port),
            "--latency-ms",
            str(a.latency_ms),
            "--lifetime",
            "14400",
        ],
        cwd=PKG_PARENT,
        stdout=open(f"{a.work}/server.log", "a"),
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/stats", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        meta = json.load(open(f"{a.corpus}/feeds.json"))
        urls = f"{a.work}/urls{'-faults' if a.faults else ''}{'-skip-' + a.skip_faults.replace(',', '-') if a.skip_faults else ''}.txt"
        with open(urls, "w") as fh:
            if a.faults:
                fh.writelines(
                    f"{base}/faults/{f}\n" for f in FAULTS if f not in a.skip_faults.split(",")
                )
            fh.writelines(f"{base}{f['path']}\n" for f in meta)
        if (
            a.faults and "gzip-bomb" not in a.skip_faults
        ):  # build the bomb once so its compression time is not charged to a peer
            urllib.request.urlopen(base + "/faults/gzip-bomb", timeout=60).read()
        for spec in a.peers.split(","):
            peer, _, n = spec.partition(":")
            name = f"{peer}:{n or 1}{'+faults' if a.faults else ''}{'-' + a.skip_faults if a.skip_faults else ''}{a.tag}"
            state = f"{a.work}/state/{name.replace(':', '-')}"
            shutil.rmtree(state, ignore_errors=True)
            cmd = setup(peer, int(n or 1), state, urls, a.py)
            for run in a.runs.split(","):
                if run in (
                    "reset",
                    "tick",
                ):  # reset: corpus back to day 0; tick: advance one day (server reloads)
                    args = (
                        [
                            "generate",
                            "--out",
                            a.corpus,
                            "--feeds",
                            str(len(meta)),
                            "--items",
                            str(a.items),
                            "--seed",
                            a.seed,
                        ]
                        if run == "reset"
                        else ["tick", "--dir", a.corpus]
                    )
                    print(
                        sh([sys.executable, "-m", "feedfarm"] + args, cwd=PKG_PARENT).strip(),
                        flush=True,
                    )
                    time.sleep(1.5)
                    urllib.request.urlopen(
                        base + "/opml", timeout=30
                    ).read()  # let the server reload before timing
                    continue
                log = f"{state}.{run}.log"
                out = sh(
                    [
                        sys.executable,
                        f"{HERE}/measure.py",
                        "--label",
                        f"{name} {run}",
                        "--stats",
                        base,
                        "--log",
                        log,
                        "--server-pid",
                        str(srv.pid),
                        "--timeout",
                        str(a.timeout),
                        "--",
                    ]
                    + cmd
                )
                rec = json.loads(out)
                rec.update(
                    peer=peer,
                    n=n,
                    run=run,
                    fault_mode=a.faults,
                    items=count_items(peer, state, log),
                    log_tail=open(log, errors="replace").read()[-600:] if rec["exit"] else "",
                )
                with open(f"{a.work}/results.jsonl", "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(
                    json.dumps(
                        {
                            k: rec[k]
                            for k in (
                                "label",
                                "wall_s",
                                "exit",
                                "maxrss_mib_time",
                                "tree_pss_peak_mib",
                                "cpu_s",
                                "server_cpu_s",
                                "other_cpu_s",
                                "requests",
                                "200",
                                "304",
                                "items",
                                "killed",
                            )
                        }
                    ),
                    flush=True,
                )
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
