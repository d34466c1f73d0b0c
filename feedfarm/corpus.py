"""Deterministic corpus: feeds of learning opportunities plus a hidden truth file.

Everything is derived from (seed, feeds, items, day) with string-seeded
random.Random instances, so the same arguments always give byte-identical
files.  `day` advances with `tick`: each day some feeds get 1-3 new items
(and a few syndicated articles appear in 2-3 feeds); every feed keeps only its
newest `items` entries, like a real feed window.
"""

import datetime as dt
import html
import json
import os
import random
import uuid
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from . import vocab

DAY0 = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)  # "now" at day 0
BASE = "@@BASE@@"  # the server replaces this with http://host:port
FORMATS = {
    "rss2": ("rss.xml", "application/rss+xml"),
    "atom": ("atom.xml", "application/atom+xml"),
    "rss1": ("index.rdf", "application/rdf+xml"),
    "json": ("feed.json", "application/feed+json"),
}
OFFSETS = [0, 0, 0, 1, 2, -5, -8, 5.5, 10]


def rng(*parts):
    return random.Random("/".join(map(str, parts)))


def slugify(s):
    return "-".join("".join(c.lower() if c.isalnum() else " " for c in s).split())[:60]


def person(r):
    return f"{r.choice(vocab.FIRST)} {r.choice(vocab.LAST)}"


# ---------------------------------------------------------------- feeds
def feed_spec(seed, n):
    r = rng(seed, "feed", n)
    fmt = r.choices(list(FORMATS), weights=[45, 30, 10, 15])[0]
    kinds = vocab.FEED_KINDS
    kind = r.choices(list(kinds), weights=[w for w, _ in kinds.values()])[0]
    theme = r.sample(sorted(vocab.TOPICS), 8 if kind == "roundup" else r.choice([1, 1, 2, 3]))
    label = vocab.TOPICS[theme[0]][0]
    who, org, city = person(r), r.choice(vocab.ORGS), r.choice(vocab.CITIES)
    title = r.choice(
        {
            "blog": [f"{who} on {label}", f"{org} Engineering Blog", f"The {label} Notebook"],
            "podcast": [f"The {label} Podcast", f"{label} Weekly with {who.split()[0]}"],
            "courses": [f"{org} — {label} courses", f"{label} Academy by {org}"],
            "events": [f"{org} Events: {label}", f"{city} {label} Meetups"],
            "video": [f"{org} TV: {label}", f"{who} — {label} videos"],
            "papers": [f"{label} Research Digest", f"arXiv-ish: {label}"],
            "roundup": [f"Learning Roundup #{n}", f"{org} Weekly Learning Picks"],
        }[kind]
    )
    host = f"{slugify(title)[:30].strip('-')}-{n:04d}.example"
    guid = r.choice(
        ["permalink", "tag", "uuid", "none"] if fmt == "rss2" else ["permalink", "tag", "uuid"]
    )
    return {
        "n": n,
        "format": fmt,
        "kind": kind,
        "theme": theme,
        "title": title,
        "author": who,
        "home": f"https://{host}/",
        "host": host,
        "path": f"/feeds/{n:04d}/{FORMATS[fmt][0]}",
        "content_type": FORMATS[fmt][1],
        "cadence": r.choice([0.5, 1, 1, 2, 3, 7]),
        "guid": guid,
        "cdata": r.random() < 0.5,
        "cats": r.random() < 0.6,
        "tz": r.choice(OFFSETS),
        "summary_only": r.random() < 0.2,
    }


# ---------------------------------------------------------------- items
def event_text(r, when):
    fmt = r.choice(
        [
            "%A, %d %B %Y, %H:%M UTC",
            "%Y-%m-%d %H:%M UTC",
            "%b %d, %Y at %H:%M (UTC)",
            "%d/%m/%Y %H:%M GMT",
        ]
    )
    return when.strftime(fmt)


def make_item(r, feed, i, pub, types, topic_pool):
    """Content of one item; r decides everything so syndicated copies match."""
    itype = r.choices(list(types), weights=list(types.values()))[0]
    primary = r.choice(topic_pool) if r.random() < 0.85 else r.choice(sorted(vocab.TOPICS))
    topics = [primary]
    if r.random() < 0.4:
        topics.append(r.choice([t for t in sorted(vocab.TOPICS) if t != primary]))
    kws = vocab.TOPICS[primary][1]
    kw, kw2 = r.sample(kws, 2)
    kw3 = r.choice([k for k in vocab.TOPICS[topics[-1]][1] if k not in (kw, kw2)])
    who = person(r)
    event = None
    if itype in vocab.DATED_TYPES:
        event = (pub + dt.timedelta(days=r.randint(3, 60))).replace(
            hour=r.choice([9, 14, 16, 18]), minute=0, second=0, microsecond=0
        )
    ctx = dict(
        n=r.randint(3, 12) if itype != "podcast" else r.randint(20, 400),
        adj=r.choice(vocab.ADJ),
        kw=kw,
        kw2=kw2,
        kw3=kw3,
        aud=r.choice(vocab.AUDIENCES),
        org=r.choice(vocab.ORGS),
        person=who,
        level=r.choice(vocab.LEVELS),
        label=vocab.TOPICS[primary][0],
        city=r.choice(vocab.CITIES),
        year=(event or pub).year,
    )
    ctx.update(Kw=kw[0].upper() + kw[1:], Adj=ctx["adj"].capitalize())
    title = r.choice(vocab.TITLES[itype]).format(**ctx)
    slug = slugify(title)
    section = {
        "course": "courses",
        "event": "events",
        "webinar": "events",
        "paper": "papers",
        "podcast": "episodes",
    }.get(itype, f"{pub:%Y/%m}")
    link = f"https://{feed['host']}/{section}/{slug}-{i}"
    # --- HTML description: paragraphs, entities, images, links, lists
    sents = [s.format(**ctx) for s in r.sample(vocab.SENTENCES, r.randint(2, 4))]
    parts = [f"<p>{html.escape(sents[0], quote=False)}</p>"]
    if event:
        where = "Online (link sent after registration)" if itype == "webinar" else ctx["city"]
        parts.append(
            f"<p><strong>When:</strong> {event_text(r, event)}<br><strong>Where:</strong> {html.escape(where)}</p>"
        )
    if r.random() < 0.4:
        parts.append(
            f'<p><img src="https://cdn.{feed["host"]}/img/{slug[:20]}-{i}.jpg" alt="{html.escape(kw)}" width="640" height="360"></p>'
        )
    if r.random() < 0.3:
        parts.append(
            "<ul>" + "".join(f"<li>{html.escape(k)}</li>" for k in r.sample(kws, 3)) + "</ul>"
        )
    extra = r.choice(
        [
            "Bring a coffee &mdash; we&rsquo;ll start on time.",
            "Q&amp;A at the end.",
            "Caf&eacute; chat afterwards &#8212; all welcome.",
            "Résumé tips included — “no fluff”.",
            "Slides &amp; notes: see below.",
            "Thanks to everyone who wrote in &hellip;",
            "",
        ]
    )
    parts.append(
        "<p>"
        + " ".join([html.escape(s, quote=False) for s in sents[1:]] + [extra]).strip()
        + "</p>"
    )
    parts.append(
        f'<p><a href="{link}">Read more</a> on <a href="{feed["home"]}">{html.escape(feed["title"])}</a></p>'
    )
    body = "".join(parts)
    if r.random() < 0.1:  # some feeds send plain text
        body = " ".join(sents)
    if r.random() < 0.03:
        body = ""
    enclosure = None
    if itype == "podcast":
        enclosure = (
            f"https://media.{feed['host']}/{slug[:30]}-{i}.mp3",
            r.randint(8, 90) * 1_000_000,
            "audio/mpeg",
            r.randint(900, 5400),
        )
    elif itype == "video" and r.random() < 0.5:
        enclosure = (
            f"https://media.{feed['host']}/{slug[:30]}-{i}.mp4",
            r.randint(50, 900) * 1_000_000,
            "video/mp4",
            r.randint(120, 3600),
        )
    style = r.choice(vocab.CATEGORY_STYLE)
    cats = [{"label": vocab.TOPICS[primary][0], "slug": primary, "keyword": kw}[style]]
    if r.random() < 0.3:
        cats.append(r.choice(vocab.NOISE_TAGS))
    return {
        "type": itype,
        "topics": topics,
        "title": title,
        "link": link,
        "html": body,
        "summary": sents[0],
        "author": who,
        "event": event,
        "enclosure": enclosure,
        "categories": cats,
        "slug": slug,
    }


def synd_articles(seed, n_feeds, n_items, day):
    """Syndicated articles: key -> (list of (feed, slot)), at day 0 and per later day."""
    out = {}
    if day == 0:
        r = rng(seed, "synd")
        taken = set()
        for k in range(max(1, n_feeds * n_items // 100)):
            copies = [
                (f, r.randrange(n_items))
                for f in r.sample(range(n_feeds), min(n_feeds, r.choice([2, 2, 3])))
            ]
            out[f"s{k}"] = [c for c in copies if c not in taken]
            taken.update(copies)
    else:
        r = rng(seed, "synd-day", day)
        for k in range(r.choice([0, 1, 1, 2])):
            out[f"d{day}s{k}"] = [
                (f, None) for f in r.sample(range(n_feeds), min(n_feeds, r.choice([2, 3])))
            ]
    return out


def feed_items(seed, spec, n_items, day, synd):
    """All items ever published by one feed up to `day`, newest first."""
    n, types = spec["n"], vocab.FEED_KINDS[spec["kind"]][1]
    rd = rng(seed, "dates", n)
    t, items, i = DAY0, [], 0
    for d in range(0, day + 1):
        if d == 0:
            slots = []
            for _ in range(n_items):
                t -= dt.timedelta(hours=24 * spec["cadence"] * rd.uniform(0.5, 1.5))
                slots.append((t.replace(microsecond=0), synd.get((n, 0, len(slots)))))
        else:
            rt = rng(seed, "tick", n, d)
            k = rt.choices([0, 1, 2, 3], weights=[55, 30, 12, 3])[0]
            slots = [
                (DAY0 + dt.timedelta(days=d - 1, hours=rt.uniform(6, 23)), None) for _ in range(k)
            ]
            slots += [
                (DAY0 + dt.timedelta(days=d - 1, hours=rt.uniform(6, 23)), key)
                for key in synd.get((n, d), [])
            ]
        for pub, key in slots:
            pub = pub.replace(microsecond=0)
            if key:  # syndicated copy: same content everywhere, feed-specific link + guid
                it = make_item(
                    rng(seed, "article", key),
                    {
                        "host": "guild-of-writers.example",
                        "home": "https://guild-of-writers.example/",
                        "title": "Guild of Writers",
                    },
                    key,
                    pub,
                    {"article": 80, "video": 10, "paper": 10},
                    sorted(vocab.TOPICS),
                )
                it["canonical"] = it["link"]
                it["link"] += (
                    f"?utm_source={spec['host'].split('.')[0]}&utm_medium=rss&utm_campaign=syndication"
                    + ("&utm_content=feed" if i % 2 else "")
                )
                it["dup_group"] = key
                pub += dt.timedelta(hours=rng(seed, "lag", key, n).uniform(0, 36))
            else:
                it = make_item(rng(seed, "item", n, i), spec, i, pub, types, spec["theme"])
            it.update(pub=pub, index=i, day=d)
            g = spec["guid"]
            it["guid"] = {
                "permalink": it["link"],
                "tag": f"tag:{spec['host']},2026:{spec['kind']}-{i}",
                "uuid": f"urn:uuid:{uuid.UUID(int=rng(seed, 'uuid', n, i).getrandbits(128), version=4)}",
                "none": None,
            }[g]
            if spec["format"] == "rss1":
                it["guid"] = it["link"]
            items.append(it)
            i += 1
    items.sort(key=lambda it: it["pub"], reverse=True)
    return items


# ---------------------------------------------------------------- writers
def _tz(spec, t):
    return t.astimezone(dt.timezone(dt.timedelta(hours=spec["tz"])))


def el(tag, text, attrs=""):
    return f"<{tag}{attrs}>{escape(str(text))}</{tag}>"


def rss2(spec, items):
    rfc = lambda t: format_datetime(_tz(spec, t), usegmt=spec["tz"] == 0)
    o = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">\n<channel>',
        el("title", spec["title"]),
        el("link", spec["home"]),
        el("description", f"{spec['kind']} about {', '.join(spec['theme'])}"),
        el("language", "en"),
        f'<atom:link href="{BASE}{spec["path"]}" rel="self" type="application/rss+xml"/>',
        el("lastBuildDate", rfc(items[0]["pub"])),
        el("generator", "feedfarm"),
    ]
    for it in items:
        o.append("<item>" + el("title", it["title"]) + el("link", it["link"]))
        if it["guid"]:
            o.append(
                el("guid", it["guid"], f' isPermaLink="{str(it["guid"] == it["link"]).lower()}"')
            )
        o.append(el("pubDate", rfc(it["pub"])) + el("dc:creator", it["author"]))
        o += [el("category", c) for c in it["categories"] if spec["cats"]]
        desc = it["summary"] if spec["summary_only"] else it["html"]
        o.append(
            f"<description><![CDATA[{desc}]]></description>"
            if spec["cdata"]
            else el("description", desc)
        )
        if it["enclosure"]:
            url, size, mime, secs = it["enclosure"]
            o.append(
                f'<enclosure url={quoteattr(url)} length="{size}" type="{mime}"/>'
                + el("itunes:duration", f"{secs // 60}:{secs % 60:02d}")
            )
        o.append("</item>")
    return "\n".join(o + ["</channel>\n</rss>\n"])


def atom(spec, items):
    iso = lambda t: _tz(spec, t).isoformat().replace("+00:00", "Z")
    o = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
        el("title", spec["title"]),
        el("subtitle", f"{spec['kind']} about {', '.join(spec['theme'])}"),
        el("id", f"tag:{spec['host']},2026:feed"),
        el("updated", iso(items[0]["pub"])),
        f'<link rel="alternate" type="text/html" href={quoteattr(spec["home"])}/>',
        f'<link rel="self" type="application/atom+xml" href="{BASE}{spec["path"]}"/>',
        f"<author>{el('name', spec['author'])}</author>",
        el("generator", "feedfarm"),
    ]
    for it in items:
        o.append(
            "<entry>"
            + el("title", it["title"], ' type="text"')
            + el("id", it["guid"] or it["link"])
        )
        o.append(f'<link rel="alternate" type="text/html" href={quoteattr(it["link"])}/>')
        o.append(
            el("published", iso(it["pub"]))
            + el("updated", iso(it["pub"]))
            + f"<author>{el('name', it['author'])}</author>"
        )
        o += [f"<category term={quoteattr(c)}/>" for c in it["categories"] if spec["cats"]]
        o.append(el("summary", it["summary"], ' type="text"'))
        if not spec["summary_only"] and it["html"]:
            o.append(el("content", it["html"], ' type="html"'))
        if it["enclosure"]:
            url, size, mime, _ = it["enclosure"]
            o.append(f'<link rel="enclosure" href={quoteattr(url)} length="{size}" type="{mime}"/>')
        o.append("</entry>")
    return "\n".join(o + ["</feed>\n"])


def rss1(spec, items):
    iso = lambda t: _tz(spec, t).isoformat()
    o = (
        [
            '<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
            f'<channel rdf:about="{BASE}{spec["path"]}">',
            el("title", spec["title"]),
            el("link", spec["home"]),
            el("description", f"{spec['kind']} about {', '.join(spec['theme'])}"),
            el("dc:date", iso(items[0]["pub"])),
            "<items><rdf:Seq>",
        ]
        + [f"<rdf:li rdf:resource={quoteattr(it['link'])}/>" for it in items]
        + ["</rdf:Seq></items>\n</channel>"]
    )
    for it in items:
        o.append(
            f"<item rdf:about={quoteattr(it['link'])}>"
            + el("title", it["title"])
            + el("link", it["link"])
        )
        o.append(
            el("description", it["summary"])
            + el("dc:date", iso(it["pub"]))
            + el("dc:creator", it["author"])
        )
        o += [el("dc:subject", c) for c in it["categories"] if spec["cats"]]
        if not spec["summary_only"] and it["html"]:
            o.append(f"<content:encoded><![CDATA[{it['html']}]]></content:encoded>")
        o.append("</item>")
    return "\n".join(o + ["</rdf:RDF>\n"])


def jsonfeed(spec, items):
    iso = lambda t: _tz(spec, t).isoformat()
    out = []
    for it in items:
        j = {
            "id": it["guid"] or it["link"],
            "url": it["link"],
            "title": it["title"],
            "date_published": iso(it["pub"]),
            "authors": [{"name": it["author"]}],
        }
        if spec["summary_only"] or not it["html"]:
            j["content_text"] = it["summary"]
        else:
            j.update(content_html=it["html"], summary=it["summary"])
        if spec["cats"]:
            j["tags"] = it["categories"]
        if it["enclosure"]:
            url, size, mime, secs = it["enclosure"]
            j["attachments"] = [
                {"url": url, "mime_type": mime, "size_in_bytes": size, "duration_in_seconds": secs}
            ]
        out.append(j)
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec["title"],
        "home_page_url": spec["home"],
        "feed_url": f"{BASE}{spec['path']}",
        "description": f"{spec['kind']} about {', '.join(spec['theme'])}",
        "language": "en",
        "authors": [{"name": spec["author"]}],
        "items": out,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


WRITERS = {"rss2": rss2, "atom": atom, "rss1": rss1, "json": jsonfeed}


# ---------------------------------------------------------------- driver
def build(out, feeds, items, seed, day):
    """Write (or rewrite) the corpus for `day`.  Unchanged files are left alone."""
    synd = {}
    for d in range(day + 1):
        for key, copies in synd_articles(seed, feeds, items, d).items():
            for f, slot in copies:
                if d == 0:
                    synd[(f, 0, slot)] = key
                else:
                    synd.setdefault((f, d), []).append(key)
    meta, changed = [], 0
    with open(os.path.join(out, "truth.jsonl.tmp"), "w", encoding="utf-8") as truth:
        for n in range(feeds):
            spec = feed_spec(seed, n)
            all_items = feed_items(seed, spec, items, day, synd)
            window = all_items[:items]
            in_window = {id(it) for it in window}
            for it in all_items:
                rec = {
                    "id": it["guid"] or it["link"],
                    "guid": it["guid"],
                    "link": it["link"],
                    "feed": spec["path"],
                    "type": it["type"],
                    "topics": it["topics"],
                    "event_date": it["event"].isoformat() if it["event"] else None,
                    "published": it["pub"].isoformat(),
                    "day": it["day"],
                    "in_window": id(it) in in_window,
                    "dup_group": it.get("dup_group"),
                    "canonical": it.get("canonical", it["link"]),
                    "title": it["title"],
                }
                truth.write(json.dumps(rec, ensure_ascii=False) + "\n")
            data = WRITERS[spec["format"]](spec, window).encode("utf-8")
            path = os.path.join(out, spec["path"].lstrip("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if not os.path.exists(path) or open(path, "rb").read() != data:
                with open(path, "wb") as fh:
                    fh.write(data)
                changed += 1
            meta.append(
                {
                    k: spec[k]
                    for k in (
                        "n",
                        "path",
                        "format",
                        "content_type",
                        "title",
                        "home",
                        "kind",
                        "theme",
                    )
                }
                | {"last_modified": window[0]["pub"].isoformat(), "items": len(window)}
            )
    os.replace(os.path.join(out, "truth.jsonl.tmp"), os.path.join(out, "truth.jsonl"))
    with open(os.path.join(out, "feeds.json"), "w") as fh:
        json.dump(meta, fh, indent=0)
    with open(
        os.path.join(out, "state.json"), "w"
    ) as fh:  # written last: the server reloads on its change
        json.dump(
            {
                "seed": seed,
                "feeds": feeds,
                "items": items,
                "day": day,
                "now": (DAY0 + dt.timedelta(days=day)).isoformat(),
            },
            fh,
        )
    return changed


def tick(out, days=1):
    st = json.load(open(os.path.join(out, "state.json")))
    return build(out, st["feeds"], st["items"], st["seed"], st["day"] + days), st["day"] + days
