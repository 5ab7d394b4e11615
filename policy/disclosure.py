"""The public crawler disclosure (Code of Practice Measure 1.3(4)).

``tdmguard policy disclosure --output-dir DIR`` writes, from
:func:`tdmguard.policy.state.facts`:

- ``index.html``: the crawler page the CBCP draft asks for (how to block each
  crawler, with an example robots.txt; what each does with the data; whether
  pages are rendered; the protocols honoured; contact; how to verify the
  crawler), linking each IP file with ``<link rel="client-ranges">``;
- ``<token>-ip-ranges.json`` per crawler: JAFAR / the de facto
  ``{creationTime, prefixes: [{ipv4Prefix | ipv6Prefix}]}`` format;
- ``<token>.json`` per crawler: shaped like the Web Bot Auth Signature Agent
  Card (``web_bot_auth`` with ``rfc9309-product-token``,
  ``rfc9309-compliance``, ``purpose``, ``ips_uri``), with tdmguard's protocol
  list under ``tdmguard``;
- ``feed.atom``: an Atom 1.0 feed (feedgen) with one entry per semantic change;
- ``disclosure-state.json``: the last published state and the feed's entries.

A change is detected against ``disclosure-state.json`` in DIR; a run without
a change rewrites the same bytes and adds no entry. Entries are dated like
policy versions (``--date``, ``SOURCE_DATE_EPOCH``, ``policy.effective_date``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from tdmguard.policy import state as st
from tdmguard.policy.config import ConfigError, ProviderConfig, effective
from tdmguard.policy.differences import differences
from tdmguard.policy.render import render_template, robots_example, statements

STATE_FILE = "disclosure-state.json"
FEED_FILE = "feed.atom"
PAGE_FILE = "index.html"
#: Where helper ``policy keys`` writes the key directory inside DIR.
KEY_DIRECTORY = os.path.join(".well-known", "http-message-signatures-directory")


def slug(name: str) -> str:
    """A crawler's file-name stem: its first product token, lower-cased (RFC
    9309 tokens hold only letters, ``_`` and ``-``)."""
    return name.lower()


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jafar(crawler: dict[str, Any], created: str) -> dict[str, Any]:
    """The IP-range file of one crawler (draft-illyes-webbotauth-jafar)."""
    prefixes = []
    for network in crawler["ip_ranges"]:
        key = "ipv6Prefix" if ":" in network else "ipv4Prefix"
        prefixes.append({key: network})
    when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return {"creationTime": when.strftime("%Y-%m-%dT%H:%M:%S.%f"), "prefixes": prefixes}


def card(crawler: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """A Signature Agent Card (draft-meunier-webbotauth-registry) for one crawler."""
    base = facts["disclosure"]["base_url"]
    name = crawler["name"]
    politeness = crawler["politeness"]
    contacts = [f"mailto:{facts['complaints']['contact_email']}"]
    if facts["complaints"]["contact_url"]:
        contacts.append(facts["complaints"]["contact_url"])
    out: dict[str, Any] = {
        "client_name": name,
        "client_uri": crawler["info_url"],
        "contacts": contacts,
        "web_bot_auth": {
            "expected-user-agent": crawler["user_agent"],
            "rfc9309-product-token": crawler["tokens"][0],
            "rfc9309-compliance": crawler["rfc9309_compliance"],
            "trigger": "crawler",
            "purpose": crawler["purpose"],
            "targeted-content": crawler["content"],
            "rate-control": ("HTTP 429 and 503 with Retry-After; robots.txt Crawl-delay"
                             if politeness["enabled"] else "none"),
            "rate-expectation": (f"at most {politeness['concurrency']} concurrent requests "
                                 f"per site, at least {politeness['delay']:g} s apart"
                                 if politeness["enabled"] else "not limited by tdmguard"),
            "known-urls": crawler["known_urls"],
            "ips_uri": f"{base}{slug(name)}-ip-ranges.json",
        },
        "tdmguard": {
            "product_tokens": crawler["tokens"],
            "mode": crawler["mode"],
            "data_use": crawler["data_use"],
            "renders_pages": crawler["renders_pages"],
            "protocols": [{"name": p["name"], "title": p["title"], "kind": p["kind"],
                           "stages": [r["stage"] for r in p["reads"]],
                           "fails_closed": p["fails_closed"] or None}
                          for p in crawler["protocols"]],
            "switched_off": [{"name": o["name"], "switches": o["switches"]}
                             for o in crawler["switched_off"]],
            "blocklists": [{"name": b["name"], "kind": b["kind"], "edition": b["edition"]}
                           for b in crawler["blocklists"]["lists"]],
            "disclosure": base,
            "feed": f"{base}{FEED_FILE}",
        },
    }
    if crawler["signing"]["enabled"] and crawler["signing"]["signature_agent"]:
        out["jwks_uri"] = crawler["signing"]["signature_agent"]
    return out


def _tag(base_url: str, day: str) -> str:
    host = urlsplit(base_url).hostname or "localhost"
    path = urlsplit(base_url).path.strip("/")
    return f"tag:{host},{day}:{path + '/' if path else ''}tdmguard-disclosure"


def _first_entry(new: dict[str, Any]) -> list[str]:
    return ["Crawler information first published: " + "; ".join(
        f"{c['name']} ({c['purpose']}, tokens {', '.join(c['tokens'])})"
        for c in new["crawlers"])]


def feed_xml(facts: dict[str, Any], feed: dict[str, Any]) -> bytes:
    """The Atom feed for the published *feed* state (deterministic)."""
    from feedgen.feed import FeedGenerator

    base = facts["disclosure"]["base_url"]
    org = facts["organisation"]["name"]
    entries = feed["entries"]
    fg = FeedGenerator()
    fg.id(feed["id"])
    fg.title(f"{org}: crawler information changes")
    fg.subtitle("One entry per change of the crawlers, their robots.txt features and the "
                "rights-reservation protocols they honour (Code of Practice Measure 1.3(4)).")
    fg.author({"name": org, "email": facts["complaints"]["contact_email"]})
    fg.link(href=f"{base}{FEED_FILE}", rel="self", type="application/atom+xml")
    fg.link(href=base, rel="alternate", type="text/html")
    fg.language("en")
    fg.updated(entries[-1]["updated"])
    for e in entries:
        fe = fg.add_entry(order="append")
        fe.id(e["id"])
        fe.title(e["title"])
        fe.updated(e["updated"])
        fe.published(e["updated"])
        fe.link(href=f"{base}#change-{e['number']}", rel="alternate", type="text/html")
        fe.content("\n".join(e["changes"]), type="text")
    fg.entry(sorted(fg.entry(), key=lambda x: -int(x.id().rsplit(":", 1)[-1])), replace=True)
    xml: bytes = fg.atom_str(pretty=True)
    return xml


def publish(cfg: ProviderConfig, directory: str, *, when: str | None = None,
            templates: str | None = None) -> tuple[list[str], list[str]]:
    """Write the disclosure into *directory*; return (changes published, warnings)."""
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output-dir {directory}: cannot create: {exc.strerror}") from None
    full = st.facts(cfg)
    new = st.disclosure_facts(full)
    saved = st.read_json(out / STATE_FILE, "published disclosure state")
    warnings: list[str] = []
    feed: dict[str, Any]
    if saved is None:
        stamp = _stamp(st.issue_time(cfg, when))
        feed = {"id": _tag(cfg.base_url, stamp[:10]), "entries": []}
        changes = _first_entry(new)
    else:
        feed = saved.get("feed") or {}
        if not isinstance(feed.get("entries"), list) or not feed.get("id"):
            raise ConfigError(f"{out / STATE_FILE}: no feed in the published state")
        changes = differences(saved.get("state") or {}, new)
        stamp = _stamp(st.issue_time(cfg, when)) if changes else ""
    if changes:
        entries = feed["entries"]
        if entries and stamp <= entries[-1]["updated"]:
            warnings.append(f"the crawler information changed but the new feed entry is dated "
                            f"{stamp}, not after the last one ({entries[-1]['updated']}): set "
                            "policy.effective_date (or --date) to the day the change applies")
        number = len(entries) + 1
        title = changes[0] if len(changes) == 1 else f"{changes[0]} (and {len(changes) - 1} " \
            f"more change{'s' if len(changes) > 2 else ''})"
        entries.append({"number": number, "id": f"{feed['id']}:{number}", "updated": stamp,
                        "title": title[:200], "changes": changes})
    try:
        write_all(cfg, out, new, feed, templates)
    except OSError as exc:
        raise ConfigError(f"--output-dir {directory}: cannot write "
                          f"{exc.filename or ''}: {exc.strerror or exc}") from None
    return changes, warnings


def write_all(cfg: ProviderConfig, out: Path, new: dict[str, Any], feed: dict[str, Any],
              templates: str | None) -> None:
    created = feed["entries"][-1]["updated"]
    crawlers = []
    for c in new["crawlers"]:
        stem = slug(c["name"])
        (out / f"{stem}-ip-ranges.json").write_text(
            json.dumps(jafar(c, created), indent=2) + "\n", encoding="utf-8")
        (out / f"{stem}.json").write_text(
            json.dumps(card(c, new), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        crawlers.append({**c, "says": statements(c), "robots_example": robots_example(c),
                         "ips_file": f"{stem}-ip-ranges.json", "card_file": f"{stem}.json"})
    (out / FEED_FILE).write_bytes(feed_xml(new, feed))
    marker = {"kind": "disclosure", "facts": new}
    jwks: list[dict[str, str]] = []
    for crawler in cfg.crawlers:
        for jwk in st.signing_keys(cfg, effective(cfg, crawler.name)):
            if jwk not in jwks:
                jwks.append(jwk)
    if jwks:  # the public key directory the signed requests point to
        from tdmguard.policy.keys import write_directory

        write_directory(out, jwks)
    keys = (out / KEY_DIRECTORY).is_file()
    page = render_template("disclosure", "html", {
        "f": new, "crawlers": crawlers, "entries": list(reversed(feed["entries"])),
        "feed_url": f"{new['disclosure']['base_url']}{FEED_FILE}",
        "key_directory": KEY_DIRECTORY.replace(os.sep, "/") if keys else None,
        "state": Markup(st.embed_script(marker)),
    }, templates)
    (out / PAGE_FILE).write_text(page, encoding="utf-8")
    st.write_json(out / STATE_FILE, {"state": new, "feed": feed})


__all__ = ["FEED_FILE", "PAGE_FILE", "STATE_FILE", "card", "feed_xml", "jafar", "publish"]
