"""The offline demo: bundled sample feeds served on a loopback port, so the real fetch path runs.

Sample files carry placeholders the server fills in when it starts, so the
demo's items are recent whatever day it runs on:

    @@BASE@@          the server's base URL
    @@RFC822:N@@      N days before now, as an RFC 822 date (RSS)
    @@ISO:N@@         N days before now, as an RFC 3339 date (Atom, JSON Feed)

N may be negative (an upcoming event).
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import threading
from collections import Counter
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

SAMPLES_DIR = Path(__file__).parents[1] / "samples"
CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8",
}
PREFERRED_PORT = 47_213
_PLACEHOLDER = re.compile(r"@@(RFC822|ISO):(-?\d+)@@")


def example_profiles_dir() -> Path:
    """The example profiles, installed or not.

    The wheel ships the repository's ``profiles/`` as ``aggregator/examples/profiles``;
    a source checkout (or an editable install) has only the repository folder.
    """
    package = Path(__file__).parents[1]
    installed = package / "examples" / "profiles"
    if installed.is_dir():
        return installed
    return package.parent / "profiles"


def fill_placeholders(text: str, base: str, now: datetime) -> str:
    """Replace the sample placeholders; items land N days before the last full hour.

    Rounding to the hour keeps the served bodies (and so their ETags) the same
    for reruns within the hour, so a second demo run sees 304s like a real one.
    """
    anchor = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)

    def when(match: re.Match[str]) -> str:
        moment = anchor - timedelta(days=int(match.group(2)))
        if match.group(1) == "RFC822":
            return email.utils.format_datetime(moment, usegmt=True)
        return moment.isoformat(timespec="seconds")

    return _PLACEHOLDER.sub(when, text.replace("@@BASE@@", base))


class SampleServer:
    """A threaded HTTP server on 127.0.0.1 serving the samples with ETags and 304s."""

    def __init__(self, now: datetime, directory: Path = SAMPLES_DIR) -> None:
        self.statuses: Counter[int] = Counter()
        self._now, self._directory = now, directory
        self._files: dict[str, tuple[bytes, str, str]] = {}
        self._httpd = self._bind()
        self._httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._load()
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _bind(self) -> ThreadingHTTPServer:
        """Prefer a fixed port: the store knows sources by URL, so a stable URL lets reruns
        see their own ETags (and 304s) instead of a new set of sources each time."""
        try:
            return ThreadingHTTPServer(("127.0.0.1", PREFERRED_PORT), self._handler())
        except OSError:
            return ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    def _load(self) -> None:
        for path in sorted(self._directory.iterdir()):
            if path.suffix not in CONTENT_TYPES:
                continue
            body = fill_placeholders(
                path.read_text(encoding="utf-8"), self.base, self._now
            ).encode()
            etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:16] + '"'
            self._files["/" + path.name] = (body, CONTENT_TYPES[path.suffix], etag)

    def feeds_toml(self) -> str:
        """The demo's ``feeds.toml``, pointing at this server."""
        return (
            (self._directory / "feeds.toml")
            .read_text(encoding="utf-8")
            .replace("@@BASE@@", self.base)
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                found = server._files.get(self.path)
                if found is None:
                    self._answer(404, b"not found", "text/plain")
                    return
                body, content_type, etag = found
                if self.headers.get("If-None-Match") == etag:
                    self._answer(304, b"", content_type, etag)
                else:
                    self._answer(200, body, content_type, etag)

            def _answer(self, status: int, body: bytes, content_type: str, etag: str = "") -> None:
                server.statuses[status] += 1
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Stay quiet: the demo prints its own summary."""

        return Handler

    def __enter__(self) -> SampleServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
