"""fetch against real loopback servers: feedfarm's fault endpoints and a static server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aggregator import __version__
from aggregator.fetch.http import fetch_many, fetch_one, is_public_address
from aggregator.models import CacheInfo, FetchResult, Settings
from feedfarm.corpus import BASE as FEEDFARM_BASE_MARKER

MIB = 1024 * 1024
SETTINGS = Settings(
    allow_private_networks=True,  # every server here is on 127.0.0.1
    timeout_s=2.0,
    deadline_s=4.0,
    max_body_bytes=1 * MIB,
    user_agent_contact="https://example.org/learnplace-tests",
)
TIMING_MARGIN_S = 0.75
NO_CACHE = CacheInfo()


def fetch(url: str, cache: CacheInfo = NO_CACHE, **changes: Any) -> FetchResult:
    return asyncio.run(fetch_one(url, cache, replace(SETTINGS, **changes)))


def collect(targets: list[tuple[str, CacheInfo]], **changes: Any) -> list[FetchResult]:
    async def gather() -> list[FetchResult]:
        return [result async for result in fetch_many(targets, replace(SETTINGS, **changes))]

    return asyncio.run(gather())


def corpus_feed(corpus: Path, fmt: str) -> tuple[str, bytes]:
    """Path and served body (before gzip) of the first corpus feed in ``fmt``."""
    meta = json.loads((corpus / "feeds.json").read_text())
    path = next(f["path"] for f in meta if f["format"] == fmt)
    return path, (corpus / path.lstrip("/")).read_bytes()


def proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/self/status")


# ---------------------------------------------------------------- plain GET


def test_200_returns_body_and_lowercased_headers(static_server):
    body = b"<rss><channel><title>t</title></channel></rss>"
    url = static_server.add(
        "/feed.xml", body, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'}
    )

    result = fetch(url)

    assert result.ok and result.error is None
    assert (result.status, result.content, result.final_url) == (200, body, url)
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.cache_info == CacheInfo('"v1"', None)
    assert result.elapsed_s > 0


def test_user_agent_names_version_and_contact(static_server):
    url = static_server.add("/ua", b"ok")

    fetch(url)

    sent = static_server.requests["/ua"][0]
    assert sent["User-Agent"] == f"Learnplace/{__version__} (+https://example.org/learnplace-tests)"
    assert sent["Accept-Encoding"] == "gzip"


def test_cookies_are_neither_kept_nor_sent(static_server):
    after = static_server.add("/after", b"ok")
    url = static_server.add(
        "/sets-cookie", b"", status=302, headers={"Location": after, "Set-Cookie": "track=1"}
    )

    result = fetch(url)

    assert result.status == 200
    assert "Cookie" not in static_server.requests["/after"][0]


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "file:///etc/passwd", "not a url"])
def test_non_http_urls_are_errors_not_exceptions(url):
    result = fetch(url)

    assert result.status is None
    assert "http(s) only" in result.error


# ---------------------------------------------------------------- conditional GET


def test_etag_revalidation_gets_304(static_server):
    url = static_server.add("/f", b"body", headers={"ETag": '"abc"'})
    first = fetch(url)

    second = fetch(url, first.cache_info)

    assert second.not_modified and second.ok
    assert second.content is None
    assert static_server.hits["/f"] == 2
    assert static_server.requests["/f"][1]["If-None-Match"] == '"abc"'


def test_etag_and_last_modified_each_get_304_from_feedfarm(feedfarm_server, feedfarm_corpus):
    path, _ = corpus_feed(feedfarm_corpus, "rss2")
    url = feedfarm_server.url(path)
    feedfarm_server.reset()
    first = fetch(url)

    by_etag = fetch(url, CacheInfo(etag=first.headers["etag"]))
    by_date = fetch(url, CacheInfo(last_modified=first.headers["last-modified"]))

    assert first.status == 200 and first.content
    assert by_etag.status == by_date.status == 304
    stats = feedfarm_server.stats()
    assert (stats["200"], stats["304"], stats["conditional_requests"]) == (1, 2, 2)


def test_gzip_body_is_decompressed(feedfarm_server, feedfarm_corpus):
    path, raw = corpus_feed(feedfarm_corpus, "atom")
    expected = raw.replace(FEEDFARM_BASE_MARKER.encode(), feedfarm_server.base.encode())
    feedfarm_server.reset()

    result = fetch(feedfarm_server.url(path))

    assert result.headers["content-encoding"] == "gzip"
    assert result.content == expected
    assert feedfarm_server.stats()["gzip_responses"] == 1


# ---------------------------------------------------------------- time bounds


def test_hanging_server_hits_the_read_timeout(feedfarm_server):
    started = time.monotonic()

    result = fetch(feedfarm_server.url("/faults/hang"), timeout_s=0.5, deadline_s=3.0)

    assert result.status is None
    assert result.error == "ReadTimeout after 0.5 s"
    assert time.monotonic() - started < 0.5 + TIMING_MARGIN_S


def test_slow_drip_hits_the_total_deadline(feedfarm_server):
    # Each chunk arrives within the read timeout; only the total deadline can stop it.
    started = time.monotonic()

    result = fetch(feedfarm_server.url("/faults/slow-drip"), timeout_s=5.0, deadline_s=1.5)

    assert result.error == "total deadline of 1.5 s exceeded"
    assert time.monotonic() - started < 1.5 + TIMING_MARGIN_S
    assert result.elapsed_s >= 1.5


# ---------------------------------------------------------------- size caps


def test_huge_body_is_cut_at_the_cap(feedfarm_server):
    result = fetch(feedfarm_server.url("/faults/huge"))

    assert result.status == 200
    assert result.content is None
    assert result.error == f"body larger than {MIB} bytes"


def test_gzip_bomb_is_cut_at_the_cap_without_inflating_it(feedfarm_server):
    url = feedfarm_server.url("/faults/gzip-bomb")
    fetch(url, max_body_bytes=10)  # let the server build (and cache) its bomb first
    with contextlib.suppress(OSError):  # reset the high-water mark to see only this fetch
        Path("/proc/self/clear_refs").write_text("5")
    rss_before = proc_status_kib("VmRSS")

    result = fetch(url)

    assert result.error == f"body larger than {MIB} bytes"
    assert proc_status_kib("VmHWM") - rss_before < 100 * 1024


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize(
    ("fault", "fmt"), [("/faults/301", "rss2"), ("/faults/302", "atom")], ids=["301", "302"]
)
def test_redirect_is_followed_and_final_url_recorded(feedfarm_server, feedfarm_corpus, fault, fmt):
    path, _ = corpus_feed(feedfarm_corpus, fmt)

    result = fetch(feedfarm_server.url(fault))

    assert result.ok and result.status == 200 and result.content
    assert result.url == feedfarm_server.url(fault)
    assert result.final_url == feedfarm_server.url(path)
    assert result.redirects == ((int(fault[-3:]), feedfarm_server.url(path)),)
    assert result.moved_permanently is (fault == "/faults/301")


def test_a_temporary_hop_makes_a_redirect_chain_temporary(static_server):
    target = static_server.add("/new", b"<rss/>")
    static_server.add("/hop", b"", status=302, headers={"Location": "/new"})
    start = static_server.add("/old", b"", status=301, headers={"Location": "/hop"})

    result = fetch(start)

    assert result.redirects == ((301, static_server.url("/hop")), (302, target))
    assert not result.moved_permanently


def test_304s_and_redirects_keep_one_connection_alive(static_server):
    url = static_server.add("/feed", b"<rss/>", headers={"ETag": '"v1"'})
    static_server.add("/moved", b"", status=301, headers={"Location": "/feed"})
    targets = [(f"{url}?n={i}", CacheInfo('"v1"')) for i in range(6)]

    results = collect([*targets, (static_server.url("/moved"), NO_CACHE)], concurrency=1)

    assert [r.status for r in results] == [304] * 6 + [200]
    # An unread 304 or 301 body used to close the connection; now all share one.
    assert len(static_server.client_ports) == 1


def test_redirect_loop_is_an_error(feedfarm_server):
    feedfarm_server.reset()

    result = fetch(feedfarm_server.url("/faults/redirect-loop"), max_redirects=3)

    assert result.error == "more than 3 redirects"
    assert feedfarm_server.stats()["requests"] == 4  # the first request plus 3 redirects


def test_redirect_to_file_scheme_is_an_error(feedfarm_server):
    result = fetch(feedfarm_server.url("/faults/redirect-scheme"))

    assert result.error.startswith("refusing file URL 'file:")
    assert result.content is None


# ---------------------------------------------------------------- HTTP errors


@pytest.mark.parametrize(
    ("status", "reason"), [(404, "Not Found"), (410, "Gone"), (500, "Internal Server Error")]
)
def test_error_status_is_kept_with_the_error(feedfarm_server, status, reason):
    result = fetch(feedfarm_server.url(f"/faults/{status}"))

    assert (result.status, result.error) == (status, f"HTTP {status} {reason}")
    assert not result.ok


def test_retry_after_header_survives_an_error(feedfarm_server):
    result = fetch(feedfarm_server.url("/faults/503"))

    assert result.status == 503
    assert result.headers["retry-after"] == "120"


# ---------------------------------------------------------------- private networks


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_before_connecting(static_server, host):
    static_server.add("/feed", b"secret")
    url = static_server.url("/feed").replace("127.0.0.1", host)

    result = fetch(url, allow_private_networks=False)

    assert result.status is None and result.content is None
    assert "refusing non-public address" in result.error
    assert static_server.hits.total() == 0


def test_loopback_is_allowed_when_configured(static_server):
    url = static_server.add("/feed", b"mine")

    assert fetch(url, allow_private_networks=True).content == b"mine"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        # IPv6 forms that carry an IPv4 address (issue 15): as public as what they carry.
        ("::ffff:0:7f00:1", False),  # IPv4-translated
        ("::127.0.0.1", False),  # IPv4-compatible
        ("::a00:1", False),
        ("64:ff9b::7f00:1", False),  # NAT64
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 to 169.254.169.254
        ("64:ff9b:1::a00:1", False),  # local-use NAT64
        ("2002:7f00:1::", False),  # 6to4
        ("2002:c0a8:101::1", False),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo
        ("fec0::1", False),  # site-local
        ("::", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("93.184.215.14", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_is_public_address(address, public):
    assert is_public_address(address) is public


# ---------------------------------------------------------------- many at once


def test_fetch_many_yields_every_result_in_completion_order(static_server, feedfarm_server):
    good = static_server.add("/good", b"fine")
    missing = static_server.url("/missing")
    hang = feedfarm_server.url("/faults/hang")
    targets = [(hang, NO_CACHE), (good, NO_CACHE), (missing, NO_CACHE), ("ftp://x/", NO_CACHE)]

    results = collect(targets, timeout_s=5.0, deadline_s=1.0)

    by_url = {r.url: r for r in results}
    assert len(results) == 4 and set(by_url) == {url for url, _ in targets}
    assert by_url[good].content == b"fine"
    assert by_url[missing].status == 404
    assert by_url["ftp://x/"].error
    assert results[-1].url == hang  # the others did not wait for it
    assert results[-1].error == "total deadline of 1 s exceeded"


def test_fetch_many_limits_requests_per_host(feedfarm_server):
    # Twice the per-host limit of hanging requests to one host take two deadline rounds.
    hang = feedfarm_server.url("/faults/hang")
    targets = [(f"{hang}?n={i}", NO_CACHE) for i in range(2 * SETTINGS.per_host_concurrency)]
    started = time.monotonic()

    results = collect(targets, deadline_s=0.5, concurrency=16)

    elapsed = time.monotonic() - started
    assert all(r.error == "total deadline of 0.5 s exceeded" for r in results)
    assert 1.0 <= elapsed < 1.0 + TIMING_MARGIN_S
