"""canonical_url decides which links are the same article; is_safe_link which may be rendered."""

import pytest

from aggregator.urls import canonical_url, is_safe_link, is_web_link


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com?q=1", "https://example.com/?q=1"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        (
            "https://blog.example/post?utm_source=rss&utm_medium=rss&utm_campaign=syndication",
            "https://blog.example/post",
        ),
        ("https://ex.com/a?b=2&utm_source=x&a=1&fbclid=abc", "https://ex.com/a?b=2&a=1"),
        ("https://ex.com/a?UTM_Source=x&id=7", "https://ex.com/a?id=7"),
        ("https://ex.com/?gclid=1&mc_cid=2&mc_eid=3&ref_src=twsrc&igshid=4", "https://ex.com/"),
        ("https://ex.com/?msclkid=1&_hsenc=2&mtm_campaign=3&page=2", "https://ex.com/?page=2"),
        ("https://ex.com/s?q=a%20b&sort=new", "https://ex.com/s?q=a%20b&sort=new"),
        ("https://ex.com/s?ref=home", "https://ex.com/s?ref=home"),
        ("https://ex.com/s?utm=1", "https://ex.com/s?utm=1"),
        ("  https://Ex.com/x  ", "https://ex.com/x"),
        ("https://www.example.com./x", "https://www.example.com/x"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("https://user:pw@Example.com/x", "https://user:pw@example.com/x"),
        ("MAILTO:someone@example.com", "mailto:someone@example.com"),
        ("not a url", "not a url"),
        ("http://example.com:99999/", "http://example.com:99999/"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_syndicated_copies_share_one_canonical_url() -> None:
    copies = [
        "https://news.example/2026/09/01/sqlite-tips",
        "https://NEWS.example:443/2026/09/01/sqlite-tips?utm_source=feed2&utm_medium=rss#comments",
        "https://news.example/2026/09/01/sqlite-tips?utm_content=feed&utm_campaign=syndication",
    ]
    assert len({canonical_url(url) for url in copies}) == 1


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTPS://Ex.com:443?a=1&utm_term=x#f")
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",
        "https://example.com/a?b=c",
        "HTTPS://EXAMPLE.COM",
        "mailto:someone@example.com",
        " https://example.com/padded ",
    ],
)
def test_safe_links(url: str) -> None:
    assert is_safe_link(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(2)",
        " javascript:alert(3)",
        "java\tscript:alert(4)",
        "java\nscript:alert(5)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "ftp://example.com/file",
        "/relative/path",
        "//example.com/protocol-relative",
        "https:///no-host",
        "mailto:",
        "",
        "http://[::1",
    ],
)
def test_unsafe_links(url: str) -> None:
    assert not is_safe_link(url)


def test_web_links_exclude_mailto() -> None:
    assert is_web_link("https://example.com/")
    assert not is_web_link("mailto:someone@example.com")
