"""Fetch feeds over HTTP: the only module of Learnplace that touches the network.

::

    fetch_many(targets) ──► `concurrency` lanes: one AsyncClient each, one keep-alive
        │                    connection each, guarded connects
        │  per target: per-host (host:port) slot ─► a free lane ─► deadline starts
        ▼
    _fetch ── hop loop (≤ max_redirects) ── GET with If-None-Match / If-Modified-Since
        │          └─ 3xx: http/https Location only ─► next hop
        │          (each hop kept in FetchResult.redirects; unwanted bodies drained)
        ▼
    status?  304 ─► FetchResult(304)      4xx/5xx ─► FetchResult(error="HTTP 404 Not Found")
             2xx ─► _read_body: raw bytes ─► own zlib decoder with max_length ─► cap
        ▼
    yielded as each completes, so parse and store work while others are in flight

Every failure of a source is a value (``FetchResult.error``); only bugs raise.
Each TCP connection goes through :class:`_GuardedBackend`, which resolves the
name itself, refuses non-public addresses and connects to the address it
checked, so a redirect or a DNS answer that changes between check and connect
(rebinding) cannot reach the local network.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import http.cookiejar
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import httpx

from aggregator import __version__
from aggregator.models import CacheInfo, FetchResult, Settings

DRAIN_BYTES = 64 * 1024
"""Bytes of a body we do not want (304, redirect, error) read anyway to keep the connection.

httpcore closes a connection whose response was not read to the end, so an
unread empty 304 body cost a new TCP connection per request.
"""

KEEPALIVE_EXPIRY_S = 30.0
ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS


class _FetchFailedError(Exception):
    """A source failed in a way we describe ourselves (cap, scheme, redirects)."""


async def fetch_one(url: str, cache: CacheInfo, settings: Settings) -> FetchResult:
    """Fetch one URL with its own client; convenient for the CLI and tests."""
    async with _Lanes.open(settings, 1) as lanes:
        return await _fetch_limited(lanes, url, cache, settings)


async def fetch_many(
    targets: Sequence[tuple[str, CacheInfo]], settings: Settings
) -> AsyncIterator[FetchResult]:
    """Yield one result per target, in completion order."""
    async with _Lanes.open(settings, settings.concurrency) as lanes:
        tasks = [
            asyncio.create_task(_fetch_limited(lanes, url, cache, settings))
            for url, cache in targets
        ]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            # The caller may stop early or a bug may surface: leave no request running.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def user_agent(settings: Settings) -> str:
    """Name ourselves and a contact, so a site owner can reach us instead of blocking us."""
    return f"Learnplace/{__version__} (+{settings.user_agent_contact})"


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
"""The well-known NAT64 prefix: a gateway forwards these to the IPv4 address in the low 32 bits."""
_NOT_GLOBAL_V6 = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("fec0::/10"))
"""Local-use NAT64 (RFC 8215) and the old site-local block, which ``is_global`` lets through."""


def is_public_address(address: str) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local...).

    An IPv6 address that carries an IPv4 one (mapped ``::ffff:7f00:1``, translated
    ``::ffff:0:7f00:1``, compatible ``::127.0.0.1``, NAT64 ``64:ff9b::7f00:1``, 6to4
    ``2002:7f00:1::``, Teredo) is as public as that IPv4 address: each can reach it.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in _NOT_GLOBAL_V6):
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return all(is_public_address(str(v4)) for v4 in embedded)
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 address leads to, or None if it is plainly IPv6."""
    low = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if int(ip) >> 32 in (0, 0xFFFF_0000) or ip in _NAT64:  # compatible, translated, NAT64
        return (low,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo
    return None


@dataclass
class _Lanes:
    """The run's concurrency: one client with one connection per lane, plus per-host slots.

    A lane is a whole ``AsyncClient`` whose pool holds a single keep-alive
    connection. httpcore's pool scans every queued request against every
    connection on each request and release, so one shared pool of 32 spent
    more CPU on that bookkeeping than on HTTP (see benchmarks/fetch.py); a
    pool of one has nothing to scan. The free lanes wait in a queue.
    """

    free: asyncio.Queue[httpx.AsyncClient]
    per_host: int
    hosts: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, count: int) -> AsyncIterator[_Lanes]:
        ssl_context = _ssl_context()
        lanes = cls(asyncio.Queue(), settings.per_host_concurrency)
        clients = [_client(settings, ssl_context) for _ in range(count)]
        async with contextlib.AsyncExitStack() as stack:
            for client in clients:
                lanes.free.put_nowait(await stack.enter_async_context(client))
            yield lanes

    def host(self, url: str) -> asyncio.Semaphore:
        """Politeness is per host and port: two sites on one IP are two hosts.

        ``urlsplit`` rather than ``httpx.URL``: it is cached and several times
        cheaper, and httpx parses each URL again anyway.
        """
        try:
            parts = urlsplit(url)
            key = f"{parts.hostname}:{parts.port or DEFAULT_PORTS.get(parts.scheme.lower())}"
        except ValueError:
            key = url  # it will fail fast; give it its own slot
        return self.hosts.setdefault(key, asyncio.Semaphore(self.per_host))

    @asynccontextmanager
    async def lane(self) -> AsyncIterator[httpx.AsyncClient]:
        client = await self.free.get()
        try:
            yield client
        finally:
            self.free.put_nowait(client)


async def _fetch_limited(
    lanes: _Lanes, url: str, cache: CacheInfo, settings: Settings
) -> FetchResult:
    # Host slot first, then a lane: a lane never idles waiting for a busy host.
    # The deadline starts once we hold both: waiting in line is not the source's fault.
    async with lanes.host(url), lanes.lane() as client:
        started = time.monotonic()
        try:
            async with asyncio.timeout(settings.deadline_s):
                result = await _fetch(client, url, cache, settings)
        except TimeoutError:
            result = _failure(url, url, f"total deadline of {settings.deadline_s:g} s exceeded")
        return _with_elapsed(result, time.monotonic() - started)


async def _fetch(
    client: httpx.AsyncClient, url: str, cache: CacheInfo, settings: Settings
) -> FetchResult:
    headers = _conditional_headers(cache)
    current = url
    redirects: list[tuple[int, str]] = []
    try:
        for _ in range(settings.max_redirects + 1):
            _check_scheme(current)
            async with client.stream("GET", current, headers=headers) as response:
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    await _drain(response)
                    current = str(response.url.join(location))
                    redirects.append((response.status_code, current))
                    continue
                result = await _result(url, response, settings.max_body_bytes)
                return dataclasses.replace(result, redirects=tuple(redirects))
        raise _FetchFailedError(f"more than {settings.max_redirects} redirects")
    except _FetchFailedError as exc:
        return _failure(url, current, str(exc))
    except httpx.TimeoutException as exc:
        return _failure(url, current, f"{type(exc).__name__} after {settings.timeout_s:g} s")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return _failure(url, current, f"{type(exc).__name__}: {exc}")


async def _result(url: str, response: httpx.Response, max_bytes: int) -> FetchResult:
    status = response.status_code
    headers = {name.lower(): value for name, value in response.headers.items()}
    final_url = str(response.url)
    if status == 304:
        await _drain(response)
        return FetchResult(url, final_url, status, None, headers)
    if not 200 <= status < 300:
        await _drain(response)
        error = f"HTTP {status} {response.reason_phrase}".rstrip()
        return FetchResult(url, final_url, status, None, headers, error=error)
    try:
        content = await _read_body(response, max_bytes)
    except _FetchFailedError as exc:
        return FetchResult(url, final_url, status, None, headers, error=str(exc))
    return FetchResult(url, final_url, status, content, headers)


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    """Decompress ourselves, never producing more than the cap.

    httpx's own decoder inflates a whole network chunk at once; a 64 KiB chunk
    of a gzip bomb is ~64 MiB, so we inflate with ``max_length`` instead.
    """
    decoder = _decoder(response.headers.get("content-encoding", ""))
    body = bytearray()
    try:
        async for raw in response.aiter_raw():
            data = raw
            while data:
                room = max_bytes - len(body) + 1
                if decoder is None:
                    body += data[:room]
                    data = b""
                else:
                    body += decoder.decompress(data, room)
                    data = decoder.unconsumed_tail
                if len(body) > max_bytes:
                    raise _FetchFailedError(f"body larger than {max_bytes} bytes")
    except zlib.error as exc:
        raise _FetchFailedError(f"corrupt compressed body: {exc}") from exc
    return bytes(body)


async def _drain(response: httpx.Response) -> None:
    """Read a small unwanted body to its end so the connection goes back to the pool."""
    received = 0
    async for raw in response.aiter_raw():
        received += len(raw)
        if received > DRAIN_BYTES:
            return  # not worth it: httpcore closes this connection instead


def _decoder(content_encoding: str) -> zlib._Decompress | None:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(_GZIP_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(_ZLIB_WBITS)
    raise _FetchFailedError(f"unsupported Content-Encoding {content_encoding!r}")


def _check_scheme(url: str) -> None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise _FetchFailedError(f"invalid URL {url!r}: {exc}") from exc
    if scheme not in ALLOWED_SCHEMES:
        raise _FetchFailedError(f"refusing {scheme or 'relative'} URL {url!r}: http(s) only")


def _conditional_headers(cache: CacheInfo) -> dict[str, str]:
    headers = {}
    if cache.etag:
        headers["If-None-Match"] = cache.etag
    if cache.last_modified:
        headers["If-Modified-Since"] = cache.last_modified
    return headers


def _failure(url: str, final_url: str, error: str) -> FetchResult:
    return FetchResult(url, final_url, None, error=error)


def _with_elapsed(result: FetchResult, elapsed_s: float) -> FetchResult:
    return dataclasses.replace(result, elapsed_s=elapsed_s)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The certificate store, loaded once per process (19 ms each time): a queue worker
    opens lanes for every fetch job."""
    return httpx.create_ssl_context(trust_env=False)


def _client(settings: Settings, ssl_context: ssl.SSLContext) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_EXPIRY_S
    )
    # trust_env=False: a proxy from the environment would make the address check moot.
    transport = httpx.AsyncHTTPTransport(limits=limits, verify=ssl_context, trust_env=False)
    # httpx has no public hook for the network backend, so we rebuild its httpcore pool
    # with the same settings plus our guarded backend (checked by test_fetch).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(settings.allow_private_networks),
    )
    return httpx.AsyncClient(
        transport=transport,
        cookies=_NoCookies(),
        timeout=httpx.Timeout(settings.timeout_s),
        headers={"User-Agent": user_agent(settings), "Accept-Encoding": "gzip"},
        follow_redirects=False,
        trust_env=False,
    )


class _NoCookies(http.cookiejar.CookieJar):
    """A feed fetcher keeps no cookies: they only track us, and reading them costs CPU per request.

    httpx reads every response's ``Set-Cookie`` into the client's jar; this
    jar ignores them (about a tenth of a warm run's CPU).
    """

    def extract_cookies(self, response: object, request: object) -> None:
        return None


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, then connect to a checked address (never the name)."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port)
        if not self._allow_private:
            blocked = [a for a in addresses if not is_public_address(a)]
            if blocked:
                # One private answer is enough to refuse: we cannot tell which one is honest.
                raise httpcore.ConnectError(f"refusing non-public address {blocked[0]} for {host}")
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int) -> list[str]:
    """Addresses for a name, in resolver order, without duplicates."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
