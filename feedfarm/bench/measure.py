#!/usr/bin/env python3
"""Run one command under /usr/bin/time -v, sample the RSS of its whole process tree,
and diff the feedfarm server's /stats around it.  Prints one JSON object.

  measure.py --label X --stats http://127.0.0.1:8765 [--timeout 900] [--rss-cap-mib 12288] -- cmd args...
"""

import argparse, json, os, signal, subprocess, sys, tempfile, threading, time, urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def tree_pss_kib(root):
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except (OSError, IndexError, ValueError):
            pass
    total, todo = 0, [root]
    while todo:  # sum PSS (shared pages split between sharers) over the tree
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(l.split()[1]) for l in fh if l.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            pass
        todo += kids.get(p, [])
    return total


def busy_s():
    """System-wide busy CPU seconds so far (all cores)."""
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def proc_cpu_s(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, TypeError):
        return 0.0


def find_server(port):
    """pid of the local `feedfarm serve --port PORT` process (read-only /proc scan), or None."""
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"feedfarm" in cmd and b"serve" in cmd and str(port).encode() in cmd:
            return int(p)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--stats", default="http://127.0.0.1:8765")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument(
        "--rss-cap-mib", type=int, default=12288, help="kill the tree above this total PSS"
    )
    ap.add_argument("--log")
    ap.add_argument(
        "--server-pid", type=int, help="pid of the feedfarm server (found by its port if omitted)"
    )
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    get(a.stats + "/stats/reset")
    spid = a.server_pid or find_server(a.stats.rsplit(":", 1)[-1])
    busy0, srv0 = busy_s(), proc_cpu_s(spid)
    tfile = tempfile.NamedTemporaryFile(delete=False, suffix=".time").name
    log = open(a.log, "wb") if a.log else subprocess.DEVNULL
    t0 = time.monotonic()
    p = subprocess.Popen(
        ["/usr/bin/time", "-v", "-o", tfile] + cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    peak, killed = 0, None
    while p.poll() is None:
        peak = max(peak, tree_pss_kib(p.pid))
        el = time.monotonic() - t0
        if peak > a.rss_cap_mib * 1024 or el > a.timeout:
            killed = f"harness kill: {'rss>' + str(a.rss_cap_mib) + 'MiB' if peak > a.rss_cap_mib * 1024 else 'timeout ' + str(a.timeout) + 's'}"
            os.killpg(p.pid, signal.SIGKILL)  # only the group we started
            p.wait()
            break
        time.sleep(0.05)
    wall = time.monotonic() - t0
    busy, srv_cpu = busy_s() - busy0, proc_cpu_s(spid) - srv0
    tv = {}
    for line in open(tfile):
        k, _, v = line.strip().rpartition(": ")
        tv[k] = v
    os.unlink(tfile)
    st = get(a.stats + "/stats")
    cpu = float(tv.get("User time (seconds)", 0)) + float(tv.get("System time (seconds)", 0))
    out = {
        "label": a.label,
        "wall_s": round(wall, 2),
        "exit": p.returncode,
        "killed": killed,
        "maxrss_mib_time": round(int(tv.get("Maximum resident set size (kbytes)", 0)) / 1024, 1),
        "tree_pss_peak_mib": round(peak / 1024, 1),
        "cpu_s": round(cpu, 2),
        "server_cpu_s": round(srv_cpu, 2),
        "other_cpu_s": round(
            busy - cpu - srv_cpu, 2
        ),  # CPU used by processes that are neither the peer nor the server
        "loadavg_end": open("/proc/loadavg").read().split()[0],
        "requests": st["requests"],
        "200": st["200"],
        "304": st["304"],
        "bytes_sent": st["bytes_sent"],
        "conditional": st["conditional_requests"],
        "gzip": st["gzip_responses"],
        "by_status": st["by_status"],
        "faults": st["faults"],
        "in_flight_after": st["in_flight"],
        "user_agents": list(st["user_agents"])[:3],
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
