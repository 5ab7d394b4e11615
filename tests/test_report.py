"""``tdmguard report`` on a real crawl of the fixture web plus a ledger of
hostile strings, rendered by headless Chromium: the strings show as text, no
element is injected, every chart's SVG closes where it should.

One crawl, one report and one Chromium run (``--dump-dom`` and
``--screenshot`` together) serve every assertion. Chromium flags for this
container: ``--headless`` (no display), ``--no-sandbox`` (the suite runs as
root, where Chromium's sandbox refuses to start), ``--disable-gpu`` (no GPU),
``--user-data-dir`` in the test's temporary directory (no shared profile,
so parallel workers do not collide) and ``--no-first-run``. Scripts stay on:
with ``--blink-settings=scriptEnabled=false`` this Chromium writes neither
the DOM nor the screenshot. So an injected ``alert()`` would block the page
until the 60 s timeout, which fails the test as surely as an assertion.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import struct
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.crawler.report import _pass_time, timeline
from tdmguard.crawler.report_svg import nice_ticks, stacked_rows
from tdmguard.middlewares.ledger import Ledger
from tdmguard.middlewares.snapshots import Snapshot
from tdmguard.middlewares.vocab import RESERVED, Decision, Reason

from .conftest import run_cli

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

SCRIPT = '<script>alert("x")</script>'
HOSTILE = [SCRIPT, "</svg>", "]]>", "<!--", "\"quoted\" 'single'"]
ROBOTS = ("User-agent: *\nDisallow: /private/\n"
          f"# {SCRIPT} </svg> ]]> <!-- \"quoted\" 'single'\n"
          "Disallow: /\"><script>alert(1)</script>\n")
#: Raw, as no crawler would store them, but a ledger file can hold anything.
EVIL_URL = f"http://evil.example/</svg>{SCRIPT}?q=\"a\"&b=']]><!--"
EVIL_DOMAIN = "<b>evil</b>.example"
EVIL_PROTOCOL = "</svg><script>p()</script>"
EVIL_DETAIL = "detail </svg></section><!-- ]]> \"q\""
EVIL_DOC = f"{SCRIPT}\n</svg>\n]]>\n<!-- comment\n<img src=x onerror=alert(2)>\n"
#: Ids the page must have: its sections and the first evidence section.
#: The test's own script, added to a copy of the page: the rendered size of
#: each chart and any element wider than the window (a horizontal scroll bar).
PROBE = """<script id="probe">
var root = document.documentElement;
var out = {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
  svgs: Array.from(document.querySelectorAll("svg")).map(function (s) {
    var r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; }),
  bars: Array.from(document.querySelectorAll("svg rect")).filter(function (r) {
    var b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0; }).length,
  wide: Array.from(document.querySelectorAll("body *")).filter(function (e) {
    return e.getBoundingClientRect().right > root.clientWidth + 1; }).map(function (e) {
    return e.tagName + "#" + e.id + "." + e.getAttribute("class"); }).slice(0, 10)};
var pre = document.createElement("pre"); pre.id = "probe-out";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""
SECTION_IDS = ("totals", "timeline", "protocols", "top-refused", "used", "audits", "crawls",
               "domains", "evidence", "dom-1")


def _write_hostile_ledger(path: Path) -> None:
    """A ledger with hostile strings in every field the report shows, and an
    audit (migration 005's tables) whose rows carry them too."""
    ledger = Ledger(str(path), domain_of=lambda u: EVIL_DOMAIN if "evil" in u else
                    "hostile.example")
    crawl_id = ledger.start_crawl(
        started_at="2026-12-01T10:00:00Z", user_agent=f"Bot{SCRIPT}", tokens=["Bot</svg>"],
        mode="strict", purpose="train-ai",
        settings={"TDMGUARD_X": EVIL_DETAIL, "TDMGUARD_ROBOTSTXT_ENABLED": False},
        blocklists=[{"name": "list]]>", "edition": "<!--", "kind": "advisory", "entries": 1}])
    doc = Snapshot("robots.txt", "http://evil.example/robots.txt", "http://evil.example",
                   "2026-12-01T10:00:01Z", 200, {}, EVIL_DOC.encode())
    ledger.add_snapshot(doc)
    for i in range(3):
        ledger.add(Decision(
            url=EVIL_URL + str(i), allowed=False, stage="refused" if i else "dropped",
            reasons=[Reason(EVIL_PROTOCOL, RESERVED, f"rule {SCRIPT}", "http://evil.example/",
                            EVIL_DETAIL)],
            at=f"2026-12-0{i + 1}T10:00:00Z", origin="http://evil.example",
            snapshots={"robots.txt": doc.sha256}, status=200 if not i else None,
            error=None if i else "<!-- error"))
    ledger.finish_crawl("2026-12-03T11:00:00Z", reason=f"{SCRIPT}")
    ledger.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO audits (id, key, started_at, finished_at, inputs, options, "
                 "crawl_ids, rows, origins, summary) VALUES (1, ?, ?, NULL, ?, ?, ?, 4, 2, ?)",
                 [f"key{SCRIPT}", "2026-12-03T12:00:00Z",
                  json.dumps([{"path": f"urls</svg>{SCRIPT}.txt", "format": "text",
                               "column": None}]),
                  json.dumps({"purpose": "train-ai", "history": [{"path": "]]>.warc"}]}),
                  json.dumps([crawl_id]),
                  json.dumps({"rows": 4, "reserved": 2,
                              "reserved_by_protocol": {EVIL_PROTOCOL: 2}})])
    rows = [(0, EVIL_URL, EVIL_DOMAIN, "reserved", 0, "reserved at collection"),
            (1, "http://hostile.example/a", "hostile.example", "allowed", 1, "not reserved"),
            (2, "http://hostile.example/private/x", "hostile.example", "reserved", 0,
             "reserved since collection"),
            (3, "http://hostile.example/b", "hostile.example", "allowed", 1, "no capture")]
    # As `audit` writes them: the domain column left empty, the origin set.
    conn.executemany(
        "INSERT INTO audit_rows (audit_id, idx, input, row, url, origin, domain, verdict, "
        "allowed, complete, history_flag) VALUES (1, ?, 'urls.txt', ?, ?, ?, ?, ?, ?, 0, ?)",
        [(i, i + 1, url, "http://" + dom, dom if "evil" in dom else None, verdict, allowed,
          flag) for i, url, dom, verdict, allowed, flag in rows])
    conn.commit()
    conn.close()


class _Dom(HTMLParser):
    """Elements with their ancestors, text nodes and comments of a DOM dump."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None], tuple[str, ...]]] = []
        self.text: list[str] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), tuple(self.stack)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), tuple(self.stack)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _render(tmp: Path) -> dict[str, Any]:
    """Crawl, write the hostile ledger, report both, show it in Chromium."""
    crawl_db, evil_db, html = tmp / "crawl.db", tmp / "evil.db", tmp / "report.html"
    web = FixtureWeb()
    web.add("http://hostile.example/robots.txt", ROBOTS)
    web.add("http://hostile.example/", '<a href="/a">a</a> <a href="/private/x">x</a> '
            '<a href="/b">b</a> <a href="/n">n</a> '
            '<a href="/%22%3E%3Cscript%3Ealert(1)%3C/script%3E">s</a>')
    web.add("http://hostile.example/a", "<html>a</html>")
    web.add("http://hostile.example/b", "<html>b</html>")
    web.add("http://hostile.example/n", "<html>n</html>", headers={"X-Robots-Tag": "noai"})
    with web:
        proc = run_cli(["crawl", "http://hostile.example/", "--user-agent", "TestBot",
                        "--db", str(crawl_db)], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _write_hostile_ledger(evil_db)
    proc = run_cli(["report", "--db", str(crawl_db), "--db", str(evil_db), "-o", str(html)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = html.read_text(encoding="utf-8")
    # Chromium opens a copy with the layout probe added, so one run gives
    # the DOM, the screenshot and the geometry.
    probed = tmp / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    png = tmp / "report.png"
    shown = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}",
         f"--screenshot={png}", "--window-size=1280,2000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr[-3000:]
    return {"html": page, "dump": shown.stdout, "png": str(png), "stderr": proc.stderr}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Any]:
    """One render for the whole run: under xdist the first worker to get here
    makes it, under a lock, and any other worker reads it."""
    if worker_id == "master":
        result = _render(tmp_path_factory.mktemp("report"))
    else:
        from filelock import FileLock  # a dependency of tldextract

        root = tmp_path_factory.getbasetemp().parent / "report-rendered"
        with FileLock(f"{root}.lock"):
            done = root / "rendered.json"
            if not done.exists():
                root.mkdir(exist_ok=True)
                done.write_text(json.dumps(_render(root)), encoding="utf-8")
        result = json.loads(done.read_text(encoding="utf-8"))
    dom = _Dom()
    dom.feed(result["dump"])
    found = re.search(r'<pre id="probe-out">(.*?)</pre>', result["dump"], re.S)
    png = Path(result["png"])
    return {**result, "dom": dom,
            "layout": json.loads(unescape(found.group(1))) if found else None,
            "png": png.read_bytes() if png.exists() else b""}


def test_report_is_written_and_self_contained(rendered: dict[str, Any]) -> None:
    assert "Wrote" in rendered["stderr"] and "2 ledgers" in rendered["stderr"]
    html = rendered["html"]
    # No script, no comment, no external resource: nothing to fetch, nothing to run.
    assert "<script" not in html.lower() and "<!--" not in html
    style = html[html.index("<style>"):html.index("</style>")]
    assert "url(" not in style and "@import" not in style
    assert html.count("<svg") == html.count("</svg>") == 3
    elements = rendered["dom"].elements
    assert not [tag for tag, attrs, _p in elements
                if tag in ("link", "iframe", "object", "embed", "img", "base")
                or "src" in attrs or any(a.startswith("on") for a in attrs)]


def test_hostile_strings_are_text_and_inject_nothing(rendered: dict[str, Any]) -> None:
    dom: _Dom = rendered["dom"]
    tags = [tag for tag, _attrs, _parents in dom.elements]
    scripts = [attrs.get("id") for tag, attrs, _p in dom.elements if tag == "script"]
    assert scripts == ["probe"]  # the test's own, and no other
    assert "img" not in tags and "b" not in tags
    assert dom.comments == []
    # Each chart's SVG closed where the template closed it: three of them, and
    # every SVG shape inside one, never spilled into the HTML around it.
    assert tags.count("svg") == 3
    for tag, _attrs, parents in dom.elements:
        if tag in ("rect", "line", "text"):
            assert "svg" in parents, (tag, parents)
        if tag in ("table", "section", "pre", "details"):
            assert "svg" not in parents, (tag, parents)
    text = "".join(dom.text)
    for s in [*HOSTILE, EVIL_URL + "1", EVIL_DOMAIN, EVIL_PROTOCOL, EVIL_DETAIL,
              "<img src=x onerror=alert(2)>", f"key{SCRIPT}", f"urls</svg>{SCRIPT}.txt",
              f"Bot{SCRIPT}", "Disallow: /\"><script>alert(1)</script>"]:
        assert s in text, s


def test_sections_links_and_figures(rendered: dict[str, Any]) -> None:
    dom: _Dom = rendered["dom"]
    ids = {attrs.get("id") for _tag, attrs, _parents in dom.elements}
    assert set(SECTION_IDS) <= ids
    hrefs = [attrs["href"] for tag, attrs, _p in dom.elements if tag == "a" and attrs.get("href")]
    # Only in-page links, each to an element that exists: no ledger URL is a link.
    assert hrefs and all(h.startswith("#") and h[1:] in ids for h in hrefs)
    text = " ".join(" ".join(dom.text).split())
    assert "reserved at collection" in text and "reserved since collection" in text
    assert "did not finish" in text  # the audit without a finish time
    assert "robots.txt (TDMGUARD_ROBOTSTXT_ENABLED off)" in text  # a switched-off protocol
    # Crawled beside used: the audit's hostile.example rows (domain from their
    # origin) next to what the crawl decided there (the other ledger).
    used = rendered["html"][rendered["html"].index('id="used"'):]
    crawled = re.search(r'hostile\.example</a></td>\s*<td class="n">([\d,]+)</td>', used)
    assert crawled and int(crawled.group(1).replace(",", "")) >= 4, used[:3000]
    # The crawl: robots.txt refused /private/x; noai dropped /n; /a and /b fetched.
    assert "http://hostile.example/private/x" in text
    assert "hostile.example" in text and "noai" in text


def test_layout_fits_the_window_and_charts_are_drawn(rendered: dict[str, Any]) -> None:
    layout = rendered["layout"]
    assert layout is not None, rendered["dump"][-2000:]
    assert layout["wide"] == [] and layout["scrollWidth"] <= layout["clientWidth"], layout
    assert len(layout["svgs"]) == 3
    assert all(w > 500 and h > 40 for w, h in layout["svgs"]), layout["svgs"]
    assert layout["bars"] >= 10


def test_screenshot_is_a_full_page_png(rendered: dict[str, Any]) -> None:
    png = rendered["png"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 2000)
    assert len(png) > 50_000  # charts, tables and text, not a blank page


def test_chart_geometry() -> None:
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(1_000_000)[-1] >= 1_000_000
    chart = stacked_rows([("a" * 50, {"refused": 3, "dropped": 1})],
                         [("refused", "r", "s-refused"), ("dropped", "d", "s-dropped")])
    row = chart["rows"][0]
    assert row["full"] == "a" * 50 and len(row["label"]) == 34 and row["total"] == "4"


@pytest.mark.parametrize(("first", "last", "unit", "bars"), [
    ("2026-12-06T09:27:50Z", "2026-12-06T09:28:10Z", "second", 21),
    ("2026-12-06T09:27:50Z", "2026-12-06T10:58:10Z", "minute", 92),
    ("2026-12-06T09:27:50Z", "2026-12-07T20:58:10Z", "hour", 36),
    ("2026-12-06T09:27:50Z", "2027-02-07T20:58:10Z", "day", 64),
    ("2026-01-06T09:27:50Z", "2027-12-07T20:58:10Z", "month", 24),
])
def test_time_buckets_fit_the_span(first: str, last: str, unit: str, bars: int) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE decisions (at TEXT, allowed INT, stage TEXT)")
    conn.executemany("INSERT INTO decisions VALUES (?, 1, 'fetched')",
                     [(first,), (last,), ("not a time",)])
    got = timeline([conn], _pass_time(conn, 13))
    assert (got["unit"], len(got["chart"]["bars"]), got["undated"]) == (unit, bars, 1)
    assert sum(r["allowed"] for r in got["rows"]) == 2  # empty buckets drawn, not listed


def test_not_a_ledger_is_one_line_exit_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tdmguard.crawler.report_cli import report

    bad = tmp_path / "x.db"
    bad.write_text("not sqlite")
    result = CliRunner().invoke(report, ["--db", str(bad), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and result.exception is not None
    assert result.stderr.strip() == f"Error: {bad} is not an SQLite file, so not a tdmguard ledger"
    assert not (tmp_path / "r.html").exists()
