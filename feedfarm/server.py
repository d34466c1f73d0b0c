"""HTTP server for a feedfarm corpus, with conditional GET, gzip, /stats and /faults/."""

import email.utils
import gzip
import hashlib
import json
import os
import random
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

from .corpus import BASE

RSS_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{}</title><link>https://faults.example/</link><description>feedfarm fault</description>\n'


def tiny_rss(title, items, encoding="utf-8"):
    body = "".join(
        f"<item><title>{escape(t)}</title><link>https://faults.example/{i}</link><guid>fault-{title}-{i}</guid>"
        f"<description>{escape(d)}</description></item>\n"
        for i, (t, d) in enumerate(items)
    )
    return (RSS_HEAD.format(escape(title)) + body + "</channel></rss>\n").encode(encoding)


XSS = [
    (
        "<script>alert('title')</script>Script in title",
        "<p>Inline <script>alert(1)</script> script tag.</p>",
    ),
    (
        "javascript: link",
        '<p><a href="javascript:alert(document.cookie)">click me</a> and <a href="JaVaScRiPt:alert(2)">again</a></p>',
    ),
    ("img onerror", '<p><img src="x" onerror="alert(3)"> broken image</p>'),
    ("svg onload", '<svg onload="alert(4)"><circle r="5"/></svg><p>svg</p>'),
    (
        "style expressions",
        '<div style="background:url(javascript:alert(5));width:expression(alert(6))">styled</div><style>body{background:url("javascript:alert(7)")}</style>',
    ),
    (
        "data: URI",
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==">data link</a><img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoOSk+">',
    ),
    (
        "iframe/object/embed",
        '<iframe src="https://evil.example/"></iframe><object data="https://evil.example/x.swf"></object><embed src="https://evil.example/e">',
    ),
    (
        "meta refresh + base + form",
        '<meta http-equiv="refresh" content="0;url=https://evil.example/"><base href="https://evil.example/"><form action="https://evil.example/"><input name=p></form>',
    ),
    (
        "event handlers",
        '<p onclick="alert(10)" onmouseover="alert(11)">hover</p><body onload=alert(12)>',
    ),
]


class Corpus:
    """The served files, reloaded when state.json changes (i.e. after `tick`)."""

    def __init__(self, root, base):
        self.root, self.base, self.lock, self.checked, self.stamp = (
            root,
            base,
            threading.Lock(),
            0.0,
            None,
        )
        self.load()

    def load(self):
        meta = json.load(open(os.path.join(self.root, "feeds.json")))
        files = {}
        for f in meta:
            body = (
                open(os.path.join(self.root, f["path"].lstrip("/")), "rb")
                .read()
                .replace(BASE.encode(), self.base.encode())
            )
            mtime = os.stat(
                os.path.join(self.root, f["path"].lstrip("/"))
            ).st_mtime  # real time of last change
            lm = email.utils.formatdate(int(mtime), usegmt=True)
            files[f["path"]] = {
                "ctype": f["content_type"],
                "body": body,
                "gz": gzip.compress(body, 6, mtime=0),
                "etag": '"%s"' % hashlib.sha1(body).hexdigest()[:16],
                "lm": lm,
                "lm_ts": email.utils.parsedate_to_datetime(lm).timestamp(),
            }
        self.meta, self.files = meta, files
        self.stamp = os.stat(os.path.join(self.root, "state.json")).st_mtime_ns

    def maybe_reload(self):
        if time.time() - self.checked < 1:
            return
        with self.lock:
            self.checked = time.time()
            if os.stat(os.path.join(self.root, "state.json")).st_mtime_ns != self.stamp:
                time.sleep(0.2)  # let `tick` finish writing
                self.load()

    def opml(self, faults=False):
        if faults:
            outlines = [(f"fault {name}", f"{self.base}/faults/{name}") for name in FAULTS]
        else:
            outlines = [(f["title"], self.base + f["path"]) for f in self.meta]
        body = "".join(
            f'  <outline type="rss" text={quoteattr(t)} title={quoteattr(t)} xmlUrl={quoteattr(u)}/>\n'
            for t, u in outlines
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0"><head><title>feedfarm</title></head><body>\n'
            + body
            + "</body></opml>\n"
        ).encode()


class Stats:
    def __init__(self):
        self.lock, self.in_flight = threading.Lock(), 0
        self.reset()

    def reset(self):  # in_flight is a gauge, not a counter: it survives a reset
        self.c, self.status, self.faults, self.ua = Counter(), Counter(), Counter(), Counter()

    def snapshot(self):
        with self.lock:
            return {
                "requests": self.c["requests"],
                "200": self.status[200],
                "304": self.status[304],
                "bytes_sent": self.c["bytes"],
                "conditional_requests": self.c["conditional"],
                "gzip_responses": self.c["gzip"],
                "in_flight": self.in_flight,
                "by_status": {str(k): v for k, v in sorted(self.status.items())},
                "faults": dict(sorted(self.faults.items())),
                "user_agents": dict(self.ua),
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feedfarm/0.1"

    def log_message(self, fmt, *args):
        if self.server.opts.get("log"):
            h = self.headers
            cond = (
                f" INM={h.get('If-None-Match')} IMS={h.get('If-Modified-Since')} AE={h.get('Accept-Encoding')}"
                if h
                else ""
            )
            super().log_message(fmt + "%s", *args, cond)

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        self.head = head
        srv, path = self.server, self.path.split("?")[0]
        if path in ("/stats", "/stats/reset"):
            if path == "/stats/reset":
                srv.stats.reset()
            return self.send(
                200,
                "application/json",
                json.dumps(srv.stats.snapshot(), indent=1).encode(),
                count=False,
            )
        st = srv.stats
        with st.lock:
            st.c["requests"] += 1
            st.c["conditional"] += bool(
                self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since")
            )
            st.ua[self.headers.get("User-Agent", "-")[:80]] += 1
            st.in_flight += 1
        try:
            lat, jit = srv.opts["latency_ms"], srv.opts["jitter_ms"]
            if lat or jit:
                time.sleep(max(0.0, lat + srv.rand.uniform(-jit, jit)) / 1000)
            srv.corpus.maybe_reload()
            if path.startswith("/faults/") and path[8:] in FAULTS:
                with st.lock:
                    st.faults[path] += 1
                return FAULTS[path[8:]][0](self)
            if path in ("/opml", "/opml/faults"):
                return self.send(200, "text/x-opml", srv.corpus.opml(path.endswith("faults")))
            if path in ("/faults", "/faults/"):
                return self.send(
                    200,
                    "application/json",
                    json.dumps({k: v[1] for k, v in FAULTS.items()}, indent=1).encode(),
                )
            f = srv.corpus.files.get(path)
            if not f:
                return self.send(404, "text/plain", b"not found\n")
            return self.send_feed(f)
        finally:
            with st.lock:
                st.in_flight -= 1

    def send_feed(self, f):
        inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        fresh = False
        if inm:
            tags = {t.strip().removeprefix("W/").replace('-gz"', '"') for t in inm.split(",")}
            fresh = f["etag"] in tags or "*" in tags
        elif ims:
            try:
                fresh = email.utils.parsedate_to_datetime(ims).timestamp() >= f["lm_ts"]
            except (TypeError, ValueError):
                fresh = False
        use_gz = "gzip" in self.headers.get("Accept-Encoding", "") and len(f["body"]) > 1024
        etag = f["etag"][:-1] + '-gz"' if use_gz else f["etag"]
        hdrs = {
            "ETag": etag,
            "Last-Modified": f["lm"],
            "Vary": "Accept-Encoding",
            "Cache-Control": "max-age=0",
        }
        if fresh:
            return self.send(304, None, b"", hdrs)
        if use_gz:
            hdrs["Content-Encoding"] = "gzip"
            with self.server.stats.lock:
                self.server.stats.c["gzip"] += 1
        return self.send(
            200,
            f["ctype"] + "; charset=utf-8" if f["ctype"] != "application/feed+json" else f["ctype"],
            f["gz"] if use_gz else f["body"],
            hdrs,
        )

    def send(self, code, ctype, body, headers=None, count=True, length=None):
        try:
            self.send_response(code)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if code != 304:
                self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            if not self.head and body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if count:
            with self.server.stats.lock:
                self.server.stats.status[code] += 1
                self.server.stats.c["bytes"] += 0 if self.head else len(body)

    def stream(self, code, ctype, total, chunks, headers=None, delay=0.0):
        """Send `total` bytes produced by the iterator `chunks`, sleeping `delay` between chunks."""
        self.send(code, ctype, b"", headers, length=total)
        if self.head:
            return
        try:
            for chunk in chunks:
                if delay:
                    time.sleep(delay)
                self.wfile.write(chunk)
                self.wfile.flush()
                with self.server.stats.lock:
                    self.server.stats.c["bytes"] += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def redirect(self, code, location):
        self.send(
            code, "text/html", f'<a href="{location}">moved</a>\n'.encode(), {"Location": location}
        )


# ---------------------------------------------------------------- faults
def first_feed(h, fmt="rss2"):
    return next(
        (f["path"] for f in h.server.corpus.meta if f["format"] == fmt),
        h.server.corpus.meta[0]["path"],
    )


def f_slow_drip(h):
    body = tiny_rss("slow drip", [("Trickled item", "This feed is sent one chunk per second.")] * 3)
    n = max(1, int(h.server.opts["drip_s"]))
    step = -(-len(body) // n)
    h.stream(
        200,
        "application/rss+xml",
        len(body),
        (body[i : i + step] for i in range(0, len(body), step)),
        delay=1.0,
    )


def f_hang(h):
    h.server.stop.wait(
        h.server.opts["hang_s"]
    )  # never answers; gives up after --hang-s or at shutdown
    h.close_connection = True


def f_huge(h):
    mib = h.server.opts["huge_mib"]
    head = RSS_HEAD.format("huge").encode()
    pad = ("lorem ipsum dolor sit amet " * 380)[:10000]
    item = lambda i: (
        f"<item><title>Huge item {i:07d}</title><guid>huge-{i:07d}</guid><description>{pad}</description></item>\n".encode()
    )
    count = (mib * 1024 * 1024 - len(head)) // len(item(0))
    tail = b"</channel></rss>\n"
    gen = (head if i < 0 else tail if i == count else item(i) for i in range(-1, count + 1))
    h.stream(200, "application/rss+xml", len(head) + count * len(item(0)) + len(tail), gen)


def f_gzip_bomb(h):
    srv = h.server
    with srv.bomb_lock:
        if srv.bomb is None:
            c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
            parts = [
                c.compress(
                    RSS_HEAD.format("bomb").encode() + b"<item><title>bomb</title><description>"
                )
            ]
            mb = b" " * (1 << 20)
            parts += [c.compress(mb) for _ in range(srv.opts["bomb_mib"])]
            parts.append(c.compress(b"</description></item></channel></rss>\n") + c.flush())
            srv.bomb = b"".join(parts)
    h.send(200, "application/rss+xml", srv.bomb, {"Content-Encoding": "gzip"})


def f_malformed(h):
    body = (
        RSS_HEAD.format("malformed & broken")
        + "<item><title>Unescaped & ampersand &nbsp; entity</title><link>https://faults.example/m1</link>"
        "<guid>malformed-1</guid><description>Missing close tag <b>bold</description></item>\n<item><title>Second item"
        "<link>https://faults.example/m2</link><guid>malformed-2</guid></item>\n<item><title>Third item</title><descr"
    )
    h.send(200, "application/rss+xml; charset=utf-8", body.encode())


def f_wrong_charset(h):
    body = tiny_rss(
        "wrong charset – “cp1252”",
        [
            ("Café déjà vu — “smart quotes” cost €5", "Naïve résumé ‘tips’ … ±"),
            ("Second – item", "Ünïcödé in windows-1252"),
        ],
        encoding="cp1252",
    )
    h.send(200, "application/rss+xml; charset=utf-8", body)


def f_autodiscovery(h):
    b = h.server.base
    body = (
        f'<!doctype html><html><head><title>A blog</title>\n<link rel="alternate" type="application/rss+xml" title="RSS" '
        f'href="{b}{first_feed(h)}">\n<link rel="alternate" type="application/atom+xml" title="Atom" href="{b}{first_feed(h, "atom")}">\n'
        "</head><body><h1>A blog with a feed</h1><p>Posts...</p></body></html>\n"
    )
    h.send(200, "text/html; charset=utf-8", body.encode())


def f_xss(h):
    body = (
        RSS_HEAD.format("XSS payloads")
        + "".join(
            f"<item><title>{escape(t)}</title><link>{'javascript:alert(0)' if i == 1 else f'https://faults.example/xss{i}'}</link>"
            f"<guid>xss-{i}</guid><description><![CDATA[{d}]]></description></item>\n"
            for i, (t, d) in enumerate(XSS)
        )
        + "</channel></rss>\n"
    )
    h.send(200, "application/rss+xml; charset=utf-8", body.encode())


FAULTS = {  # name -> (handler, description); served at /faults/<name>
    "slow-drip": (
        f_slow_drip,
        "valid small RSS trickled one chunk per second over --drip-s (60) seconds",
    ),
    "hang": (
        f_hang,
        "accepts the request and never answers (closes after --hang-s, default 300 s)",
    ),
    "500": (lambda h: h.send(500, "text/plain", b"internal error\n"), "500 Internal Server Error"),
    "503": (
        lambda h: h.send(503, "text/plain", b"maintenance\n", {"Retry-After": "120"}),
        "503 with Retry-After: 120",
    ),
    "429": (
        lambda h: h.send(429, "text/plain", b"slow down\n", {"Retry-After": "3600"}),
        "429 with Retry-After: 3600",
    ),
    "404": (lambda h: h.send(404, "text/plain", b"not found\n"), "404 Not Found"),
    "410": (
        lambda h: h.send(410, "text/plain", b"gone\n"),
        "410 Gone: a client should stop polling",
    ),
    "301": (
        lambda h: h.redirect(301, h.server.base + first_feed(h)),
        "301 to the first RSS 2.0 corpus feed (client should update the URL)",
    ),
    "302": (
        lambda h: h.redirect(302, h.server.base + first_feed(h, "atom")),
        "302 to the first Atom corpus feed (keep the old URL)",
    ),
    "redirect-loop": (
        lambda h: h.redirect(302, h.server.base + "/faults/redirect-loop-b"),
        "302 to redirect-loop-b, which points back",
    ),
    "redirect-loop-b": (
        lambda h: h.redirect(302, h.server.base + "/faults/redirect-loop"),
        "second half of the loop",
    ),
    "redirect-scheme": (
        lambda h: h.redirect(301, "file:///etc/passwd"),
        "301 to file:///etc/passwd (non-http scheme)",
    ),
    "huge": (f_huge, "200 with a --huge-mib (50) MiB valid RSS body (~10 kB items)"),
    "gzip-bomb": (
        f_gzip_bomb,
        "Content-Encoding: gzip, ~1 MiB on the wire, --bomb-mib (1024) MiB of spaces inside one <description>; sent even if gzip was not asked for",
    ),
    "malformed": (
        f_malformed,
        "RSS with unescaped &, &nbsp;, unclosed tags, truncated mid-element",
    ),
    "wrong-charset": (
        f_wrong_charset,
        "windows-1252 bytes, declared utf-8 in both the header and the XML declaration",
    ),
    "autodiscovery": (
        f_autodiscovery,
        "HTML page with <link rel=alternate> to an RSS and an Atom corpus feed",
    ),
    "html-no-feed": (
        lambda h: h.send(
            200,
            "text/html; charset=utf-8",
            b"<!doctype html><html><head><title>No feed here</title></head><body><p>Just a page.</p></body></html>\n",
        ),
        "HTML page without any feed link",
    ),
    "empty": (lambda h: h.send(200, "application/rss+xml", b""), "200 with an empty body"),
    "xss": (
        f_xss,
        "RSS whose items carry script tags, javascript: hrefs and links, onerror/onload/onclick, style expressions, data: URIs, iframes, meta refresh",
    ),
}


class Server(ThreadingHTTPServer):
    daemon_threads, request_queue_size, allow_reuse_address = True, 512, True


def serve(root, host="127.0.0.1", port=8765, **opts):
    srv = Server((host, port), Handler)
    srv.base = f"http://{host}:{srv.server_address[1]}"
    srv.opts, srv.stats, srv.rand = opts, Stats(), random.Random(port)
    srv.corpus, srv.stop, srv.bomb, srv.bomb_lock = (
        Corpus(root, srv.base),
        threading.Event(),
        None,
        threading.Lock(),
    )
    if opts.get("lifetime"):
        threading.Timer(opts["lifetime"], srv.shutdown).start()
    print(
        f"feedfarm: serving {len(srv.corpus.files)} feeds from {root} on {srv.base} (opml: {srv.base}/opml)",
        flush=True,
    )
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop.set()
        srv.server_close()
