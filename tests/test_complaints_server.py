"""The web intake over real HTTP on loopback: waitress in a thread, requests as client.

Every hostile request gets its own readable refusal (an HTML page, or JSON
under /api/), nothing of it is stored, and the server keeps serving. Every
HTML page escapes what a complainant wrote. One test drives the form in
headless Chromium over the DevTools protocol, with JavaScript switched off.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tdmguard.policy.complaints.config import parse_complaints_section
from tdmguard.policy.complaints.server import MAX_FIELDS, create_app, make_server

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQL = "Robert'); DROP TABLE complaints; --"
VALID = {
    "complainant_name": "Ada Author",
    "complainant_email": "ada@example.org",
    "capacity": "rightsholder",
    "rightsholder": "Ada Author",
    "work_description": "The Novel, 2024",
    "urls": "https://copies.example/novel\nhttps://copies.example/novel/2",
    "commitment": "1.3",
    "description": "Crawled although robots.txt reserved it for AI training.",
    "good_faith": "on",
    "language": "en",
}


class Intake:
    """One intake server (waitress in a thread) with its own register."""

    def __init__(self, tmp: Path, rate_limit: str) -> None:
        self.tmp = tmp
        self.config = parse_complaints_section(
            {"contact_email": "copyright@example.org", "register": str(tmp / "c.db"),
             "outbox": str(tmp / "outbox")}, path="test.toml")
        self.app = create_app(self.config, rate_limit=rate_limit)
        self.server = make_server(self.app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        # Closed from inside waitress's own loop (its trigger runs the thunk
        # there), so no select() sees a socket vanish; the loop then ends.
        from waitress import wasyncore

        self.server.trigger.pull_trigger(
            lambda: wasyncore.close_all(self.server._map))
        self.thread.join(10)
        assert not self.thread.is_alive(), "the intake server did not stop"
        self.server.task_dispatcher.shutdown()  # and its worker threads
        self.app.extensions["tdmguard_register"].close()

    def count(self) -> int:
        with sqlite3.connect(self.config.register) as conn:
            return int(conn.execute("select count(*) from complaints").fetchone()[0])

    def form(self) -> tuple[requests.Session, str]:
        """A browser-like session holding the form's CSRF cookie, and the token."""
        s = requests.Session()
        page = s.get(self.url + "/")
        assert page.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        return s, token.group(1)


@pytest.fixture(scope="module")
def intake(tmp_path_factory) -> Iterator[Intake]:
    server = Intake(tmp_path_factory.mktemp("intake"), "100000/minute")
    yield server
    server.close()


def escaped(html: str) -> None:
    """No complainant's markup is live on the page."""
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "<script" not in html.lower()  # the pages have no script at all


# -- the happy paths ------------------------------------------------------------------------


def test_form_is_labelled_and_accepts_a_complaint_with_a_receipt(intake):
    s, token = intake.form()
    page = s.get(intake.url + "/").text
    for name in VALID:
        assert f'<label for="{name}">' in page, name
        assert f'id="{name}"' in page
    assert 'aria-describedby="urls-hint"' in page
    before = intake.count()
    resp = s.post(intake.url + "/complaints", data={**VALID, "csrf_token": token},
                  allow_redirects=False)
    assert resp.status_code == 303, resp.text[:500]
    receipt = s.get(intake.url + resp.headers["Location"])
    assert receipt.status_code == 200
    ref = re.search(r'class="reference">(TDMC-\d{4}-\d{6})<', receipt.text).group(1)
    assert "https://copies.example/novel/2" in receipt.text
    assert intake.count() == before + 1
    assert (intake.tmp / "outbox" / f"{ref}-acknowledgement.eml").exists()
    assert receipt.headers["Cache-Control"] == "no-store"
    assert "script-src 'none'" in receipt.headers["Content-Security-Policy"]
    # Multipart, with a file as evidence (its name in UTF-8).
    resp = s.post(intake.url + "/complaints", data={**VALID, "csrf_token": token},
                  files={"attachments": ("capture-é.png", b"\x89PNG\r\n\x1a\n" + bytes(64),
                                         "image/png")})
    assert resp.status_code == 200 and "TDMC-" in resp.text, resp.text[:500]
    with sqlite3.connect(intake.config.register) as conn:
        names = [n for (n,) in conn.execute("select filename from complaint_attachments")]
    assert names == ["capture-é.png"]


def test_json_api_accepts_and_reports_field_errors(intake):
    resp = requests.post(intake.url + "/api/complaints", json={**VALID, "good_faith": True})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert re.fullmatch(r"TDMC-\d{4}-\d{6}", body["reference"]) and body["acknowledged"]
    assert requests.get(intake.url + body["receipt"]).status_code == 200
    bad = requests.post(intake.url + "/api/complaints",
                        json={**VALID, "complainant_email": "nope", "urls": "ftp://x"})
    assert bad.status_code == 400
    assert {"complainant_email", "urls"} <= {k.split("[")[0] for k in bad.json()["errors"]}


# -- hostile input ----------------------------------------------------------------------------


def test_markup_and_sql_are_stored_as_text_and_escaped_on_every_page(intake):
    s, token = intake.form()
    hostile = {**VALID, "complainant_name": MARKUP, "rightsholder": SQL,
               "description": f"{MARKUP} {SQL} and more words", "csrf_token": token}
    # The form re-shown with errors escapes what was typed.
    again = s.post(intake.url + "/", data={**hostile, "complainant_email": MARKUP})
    assert again.status_code == 400
    escaped(again.text)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in again.text
    assert 'id="complainant_email-error"' in again.text
    assert 'aria-describedby="complainant_email-error"' in again.text or \
        'complainant_email-hint complainant_email-error' in again.text
    # Accepted as text: the receipt escapes it, the register holds it verbatim.
    ok = s.post(intake.url + "/", data=hostile)
    assert ok.status_code == 200 and "reference" in ok.text
    escaped(ok.text)
    assert "Robert&#39;); DROP TABLE complaints; --" in ok.text
    ref = re.search(r'class="reference">(TDMC-\d{4}-\d{6})<', ok.text).group(1)
    with sqlite3.connect(intake.config.register) as conn:
        name, holder = conn.execute("select complainant_name, rightsholder from complaints "
                                    "where reference = ?", (ref,)).fetchone()
    assert (name, holder) == (MARKUP, SQL)
    # A field name is echoed on the error page: escaped too.
    big = s.post(intake.url + "/", data={MARKUP: "x" * 200_000, "csrf_token": token})
    assert big.status_code == 413
    escaped(big.text)


def _refused(resp: requests.Response, status: int, words: str) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    if resp.headers["Content-Type"].startswith("application/json"):
        assert words in resp.json()["error"]
    else:
        assert resp.headers["Content-Type"].startswith("text/html")
        assert "not accepted" in resp.text and words in resp.text
        escaped(resp.text)


def test_each_hostile_request_gets_its_refusal_and_nothing_is_stored(intake):
    s, token = intake.form()
    before = intake.count()
    url, api = intake.url + "/", intake.url + "/api/complaints"
    ten_mb = b"a" * (10 * 1024 * 1024)
    many = "&".join(f"f{i}=x" for i in range(10_000))
    multipart_many = {f"f{i}": (None, "x") for i in range(10_000)}
    json_type = {"Content-Type": "application/json"}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    binary = bytes(range(256)) * 64
    cases = [
        # a 10 MB body, as a form and as JSON
        (s.post(url, data=ten_mb, headers=form_type), 413, "larger than"),
        (requests.post(api, data=ten_mb, headers=json_type), 413, "larger than"),
        # 10,000 fields, URL-encoded and multipart
        (s.post(url, data=f"csrf_token={token}&{many}", headers=form_type), 413,
         f"more than {MAX_FIELDS}"),
        (s.post(url, files=multipart_many), 413, "more than"),
        # invalid UTF-8: percent-encoded, raw, in a multipart field, in JSON
        (s.post(url, data=f"csrf_token={token}&complainant_name=%FF%FE",
                headers=form_type), 400, "not valid UTF-8"),
        (s.post(url, data=b"complainant_name=\xff\xfe", headers=form_type), 400, "non-ASCII"),
        (s.post(url, files={"csrf_token": (None, token),
                            "complainant_name": (None, b"Ada \xff")}), 400, "not valid UTF-8"),
        (s.post(url, data=(b'--b\r\nContent-Disposition: form-data; name="x\xff"\r\n\r\n'
                           b"v\r\n--b--\r\n"),
                headers={"Content-Type": "multipart/form-data; boundary=b"}), 400,
         "not valid UTF-8"),
        (requests.post(api, data=b'{"complainant_name": "\xff"}', headers=json_type), 400,
         "not valid UTF-8"),
        # binary bodies
        (requests.post(api, data=binary, headers=json_type), 400, "UTF-8"),
        (requests.post(api, data=binary, headers={"Content-Type": "application/octet-stream"}),
         415, "application/json"),
        (s.post(url, data=binary, headers=form_type), 400, "non-ASCII"),
        # JSON that is not one flat object of fields
        (requests.post(api, data="[" * 100_000 + "]" * 100_000, headers=json_type), 400,
         "JSON"),
        (requests.post(api, data='{"a": 1, "a": 2}', headers=json_type), 400, "twice"),
        (s.post(url, data={"n" * 500: "x", "csrf_token": token}), 400, "field name"),
        # a missing and a wrong CSRF token; a token without its session cookie
        (s.post(url, data=VALID), 400, "security token"),
        (s.post(url, data={**VALID, "csrf_token": token[:-4] + "AAAA"}), 400,
         "security token"),
        (requests.post(url, data={**VALID, "csrf_token": token}), 400, "security token"),
        # the JSON API with ambient credentials, or from another origin
        (requests.post(api, json=VALID, headers={"Cookie": "session=x"}), 400, "cookies"),
        (requests.post(api, json=VALID, headers={"Origin": "http://evil.example"}), 403,
         "cross-origin"),
    ]
    for resp, status, words in cases:
        _refused(resp, status, words)
    assert intake.count() == before
    assert requests.get(url).status_code == 200  # still serving


def test_a_flood_above_the_rate_limit_gets_429(tmp_path):
    server = Intake(tmp_path, "3/minute")
    try:
        s, token = server.form()
        form = [s.post(server.url + "/", data={**VALID, "csrf_token": token},
                       allow_redirects=False) for _ in range(5)]
        api = [requests.post(server.url + "/api/complaints", json=VALID) for _ in range(5)]
        assert [r.status_code for r in form] == [303, 303, 303, 429, 429]
        assert [r.status_code for r in api][3:] == [429, 429]
        _refused(form[-1], 429, "too many submissions")
        _refused(api[-1], 429, "too many submissions")
        assert form[-1].headers["Retry-After"]
        assert server.count() == 3 + sum(r.status_code == 201 for r in api)
    finally:
        server.close()


# -- a real browser, without JavaScript -----------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class DevTools:
    """The few Chrome DevTools Protocol calls the test needs (aiohttp's websocket)."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.next_id, self.events = ws, 0, []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = json.loads((await self.ws.receive(timeout=20)).data)
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return dict(msg.get("result", {}))
            self.events.append(msg.get("method"))

    async def wait_for(self, event: str) -> None:
        while event not in self.events:
            msg = json.loads((await self.ws.receive(timeout=20)).data)
            self.events.append(msg.get("method"))
        self.events.clear()

    async def node(self, selector: str) -> int:
        root = (await self.call("DOM.getDocument"))["root"]["nodeId"]
        found = await self.call("DOM.querySelector", nodeId=root, selector=selector)
        assert found["nodeId"], selector
        return int(found["nodeId"])

    async def html(self) -> str:
        root = (await self.call("DOM.getDocument"))["root"]["nodeId"]
        return str((await self.call("DOM.getOuterHTML", nodeId=root))["outerHTML"])

    async def click(self, selector: str) -> None:
        node = await self.node(selector)
        await self.call("DOM.scrollIntoViewIfNeeded", nodeId=node)
        quad = (await self.call("DOM.getBoxModel", nodeId=node))["model"]["content"]
        x, y = (quad[0] + quad[4]) / 2, (quad[1] + quad[5]) / 2
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y,
                            button="left", clickCount=1)

    async def type_into(self, selector: str, text: str) -> None:
        await self.call("DOM.focus", nodeId=await self.node(selector))
        await self.call("Input.insertText", text=text)


async def _drive(port: int, url: str) -> tuple[str, str]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json()
        page = next(t for t in targets if t["type"] == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            d = DevTools(ws)
            for domain in ("Page", "DOM"):
                await d.call(f"{domain}.enable")
            await d.call("Emulation.setScriptExecutionDisabled", value=True)
            await d.call("Page.navigate", url=url)
            await d.wait_for("Page.loadEventFired")
            # First without the required fields: errors next to them.
            await d.type_into("#complainant_name", "Ada <b>Author</b>")
            await d.click("button[type=submit]")
            await d.wait_for("Page.loadEventFired")
            with_errors = await d.html()
            # Then the rest, as a person would type it; the name was kept.
            for selector, text in (("#complainant_email", "ada@example.org"),
                                   ("#rightsholder", "Ada Author"),
                                   ("#work_description", "The Novel"),
                                   ("#urls", "https://copies.example/novel"),
                                   ("#description", "Crawled despite the reservation.")):
                await d.type_into(selector, text)
            for select, value in (("#capacity", "rightsholder"), ("#commitment", "1.3")):
                option = await d.node(f'{select} option[value="{value}"]')
                await d.call("DOM.setAttributeValue", nodeId=option, name="selected",
                             value="selected")
            await d.click("#good_faith")
            await d.click("button[type=submit]")
            await d.wait_for("Page.loadEventFired")
            return with_errors, await d.html()


def test_headless_chromium_fills_in_and_sends_the_form_without_javascript(intake):
    # Debian's chromium is part of the test bed (.ci/run installs it): no skip.
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)"
    profile = tempfile.mkdtemp(prefix="tdmguard-chromium-")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--remote-debugging-port=0", "--remote-allow-origins=*",
         f"--user-data-dir={profile}", "--proxy-server=direct://", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        active = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (active.exists() and active.read_text().strip()):
            assert time.monotonic() < deadline and proc.poll() is None, "chromium did not start"
            time.sleep(0.05)
        port = int(active.read_text().split()[0])
        before = intake.count()
        with_errors, receipt = asyncio.run(_drive(port, intake.url + "/"))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    assert "There is a problem" in with_errors
    assert 'id="complainant_email-error"' in with_errors
    assert re.search(r'id="complainant_email"[^>]*aria-describedby="complainant_email-hint '
                     r'complainant_email-error"', with_errors)
    assert 'value="Ada &lt;b&gt;Author&lt;/b&gt;"' in with_errors  # kept, escaped
    assert "We received your complaint" in receipt, receipt[-2000:]
    assert re.search(r"TDMC-\d{4}-\d{6}", receipt)
    assert "Ada &lt;b&gt;Author&lt;/b&gt;" in receipt
    assert intake.count() == before + 1


def test_serve_command_refuses_bad_options_in_one_line(tmp_path):
    from .conftest import run_cli

    for args, words in ((["--rate-limit", "lots"], "--rate-limit"),
                        (["--config", str(tmp_path / "none.toml")], "no configuration file")):
        proc = run_cli(["complaints", "serve", "--port", "0", *args])
        assert proc.returncode == 2, proc.stderr
        assert words in proc.stderr and "Traceback" not in proc.stderr
