"""The protocol registry: one entry per protocol, and each switch really switches.

For every protocol in the registry, one URL of the fixture web that the protocol
reserves is checked with everything on (one shared crawl) and with that
protocol's ``TDMGUARD_<NAME>_ENABLED=False`` (one crawl per protocol): the
reasons ``check`` reports change, and so do the public summary's section 3.1
lists and its behaviour text, generated from each crawl's recorded settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.crawler.samplesignals import (
    DATA,
    IPTC_XMP,
    RSL_LICENCE,
    jpeg_with_xmp,
    page,
)
from tdmguard.middlewares import describe, registry
from tdmguard.middlewares.settings import DEFAULTS
from tdmguard.policy.training_summary import summary

from .conftest import ROOT, by_url, check_json

COURT = ROOT / "tests" / "data" / "blocklists" / "test-court.txt"
#: A rightsholder-reservations list (as an upheld complaint writes it).
RESERVATIONS = ('{"pattern": "http://reserved.example/page", "kind": "url-prefix", '
                '"complaint": "TDMC-2026-000001", "added": "2026-12-01T00:00:00Z", '
                '"withdrawn": null}\n')

#: protocol name -> the URL it reserves in the fixture web below.
RESERVED_URL = {
    "robots.txt": "http://robots.example/page",
    "tdmrep": "http://tdmrep.example/page",
    "content-usage": "http://cu.example/page",
    "content-signal": "http://cs.example/page",
    "disallow-ai-training": "http://dat.example/page",
    "rsl": "http://rsl.example/page",
    "ai.txt": "http://aitxt.example/page",
    "noai": "http://noai.example/page",
    "iptc": "http://photos.example/iptc.jpg",
    "c2pa": "http://photos.example/c2pa.png",
    "blocklist": "http://listed.to/page",
    "rightsholder-reservation": "http://reserved.example/page",
    "lawful-access": "http://paid.example/page",
}


def publish(web: FixtureWeb) -> None:
    for url in RESERVED_URL.values():
        web.add(url, page(url))
    web.add("http://robots.example/robots.txt", "User-agent: *\nDisallow: /page\n")
    web.add("http://tdmrep.example/.well-known/tdmrep.json",
            '[{"location": "/page", "tdm-reservation": 1}]',
            headers={"Content-Type": "application/json"})
    web.add("http://cu.example/robots.txt",
            "User-agent: *\nAllow: /\nContent-Usage: /page train-ai=n\n")
    web.add("http://cs.example/robots.txt",
            "User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n")
    web.add("http://dat.example/robots.txt",
            "User-agent: *\nDisallowAITraining: /page\nAllow: /\n")
    web.add("http://rsl.example/robots.txt",
            "License: http://rsl.example/l.xml\nUser-agent: *\nAllow: /\n")
    web.add("http://rsl.example/l.xml", RSL_LICENCE,
            headers={"Content-Type": "application/rsl+xml"})
    web.add("http://aitxt.example/ai.txt", "User-agent: *\nDisallow: /page\nAllow: /\n")
    web.add(RESERVED_URL["noai"], page("art"),
            headers={"X-Robots-Tag": "noai", "Content-Type": "text/html"})
    web.add(RESERVED_URL["iptc"], jpeg_with_xmp(IPTC_XMP),
            headers={"Content-Type": "image/jpeg"})
    web.add(RESERVED_URL["c2pa"], (DATA / "c2pa-do-not-train.png").read_bytes(),
            headers={"Content-Type": "image/png"})
    web.add(RESERVED_URL["lawful-access"], "<html>pay first</html>", status=402)


def run_check(web: FixtureWeb, db: Path, urls: list[str], *settings: str
              ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    reservations = db.parent / "reservations.jsonl"
    reservations.write_text(RESERVATIONS, encoding="utf-8")
    opts = [o for s in (*settings, f"TDMGUARD_DB={db}", f"TDMGUARD_RESERVATIONS={reservations}")
            for o in ("-s", s)]
    rows = check_json(web, urls, "--user-agent", "TestBot", "--blocklist", str(COURT), *opts)
    ledger = sqlite_utils.Database(db)
    try:
        return by_url(rows), summary(ledger)
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def everything_on(tmp_path_factory):
    with FixtureWeb() as web:
        publish(web)
        yield run_check(web, tmp_path_factory.mktemp("on") / "on.db",
                        list(RESERVED_URL.values()))


def test_every_protocol_is_declared_once_with_a_documented_default_switch():
    names = [p.name for p in registry.PROTOCOLS]
    assert sorted(names) == sorted(RESERVED_URL)
    assert len({p.switch for p in registry.PROTOCOLS}) == len(names)
    for p in registry.PROTOCOLS:
        assert p.switch.startswith("TDMGUARD_") and p.switch.endswith("_ENABLED")
        assert DEFAULTS[p.switch] is True
        assert set(p.stages) <= set(registry.STAGES) and p.reads
        assert p.purposes and p.title
        # Each is enforced by the loops (an evaluator per stage) or by its own component.
        for read in p.reads:
            evaluate = {registry.LOCATION: p.evaluate_location,
                        registry.RESPONSE: p.evaluate_response,
                        registry.REQUEST: p.evaluate_request}.get(read.stage)
            assert evaluate is not None or p.component, (p.name, read.stage)


def test_enabled_reads_recorded_settings_and_live_getters_alike():
    recorded = {"TDMGUARD_ROBOTSTXT_ENABLED": False, "TDMGUARD_NOAI_ENABLED": "False"}
    names = [p.name for p in registry.enabled(recorded)]
    assert "robots.txt" not in names and "noai" not in names and "tdmrep" in names
    # Content-Usage in robots.txt needs robots.txt; its header is still read.
    assert "content-usage" not in [p.name for p in registry.enabled(recorded, "location")]
    assert "content-usage" in [p.name for p in registry.enabled(recorded, "response")]

    def getbool(name: str, default: bool = True) -> bool:
        return registry.to_bool(recorded.get(name, default))

    assert [p.name for p in registry.enabled(getbool)] == names
    assert registry.enabled({}) == list(registry.PROTOCOLS)


def _lines(s: dict[str, Any]) -> list[str]:
    section = s["section_3_1"]
    return section["opt_out_protocols_honoured"] + section["lawful_access_measures"]


@pytest.mark.parametrize("protocol", registry.PROTOCOLS, ids=lambda p: p.name)
def test_switching_a_protocol_off_changes_check_and_summary(web, tmp_path, everything_on,
                                                            protocol):
    url = RESERVED_URL[protocol.name]
    on_rows, on_summary = everything_on
    on = on_rows[url]
    assert on["allowed"] is False, on
    assert protocol.name in {r["protocol"] for r in on["reasons"]
                             if r["verdict"] in ("reserved", "unreadable")}

    publish(web)
    off_rows, off_summary = run_check(web, tmp_path / "off.db", [url],
                                      f"{protocol.switch}=False")
    off = off_rows[url]
    assert protocol.name not in {r["protocol"] for r in off["reasons"]}, off
    assert off["reasons"] != on["reasons"]
    assert off["allowed"] is True, off

    line = describe.line(protocol, list(protocol.reads))
    assert line in _lines(on_summary)
    assert not any(x.startswith(protocol.title) for x in _lines(off_summary))
    assert f"{protocol.name} ({protocol.switch} off)" in \
        off_summary["section_3_1"]["protocols_switched_off"]
    on_text = on_summary["section_2_3"]["crawler_behaviour"]
    off_text = off_summary["section_2_3"]["crawler_behaviour"]
    assert off_text != on_text
    assert f"{protocol.name} ({protocol.switch} off)" in off_text
    if protocol.name == "robots.txt":
        assert "Reads robots.txt before any other request" in on_text
        assert "Does not read robots.txt" in off_text


def test_the_crawler_behaviour_names_extra_noai_directives() -> None:
    from tdmguard.middlewares import describe

    plain = describe.behaviour(["Bot"], [("strict", {})])
    assert "TDMGUARD_NOAI_EXTRA_DIRECTIVES" not in plain
    for recorded in ("noindex, NoArchive", ["noindex", "noarchive"]):
        text = describe.behaviour(["Bot"], [("strict", {
            "TDMGUARD_NOAI_EXTRA_DIRECTIVES": recorded})])
        assert "robots directive(s) noindex, noarchive as a reservation" in text
    off = describe.behaviour(["Bot"], [("strict", {"TDMGUARD_NOAI_EXTRA_DIRECTIVES": "noindex",
                                                   "TDMGUARD_NOAI_ENABLED": False})])
    assert "noindex" not in off
