"""The complaints register: intake, lifecycle, deadlines, duplicates, bulk intake,
emails over a real SMTP server, evidence from a real crawl's ledger, the
reservations fed back into crawling, purge and verify."""

from __future__ import annotations

import csv
import email
import io
import json
import multiprocessing
import os
import socket
import sqlite3
import stat
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.policy.complaints import intake, mail, reservations
from tdmguard.policy.complaints.config import (
    ComplaintsConfig,
    ComplaintsConfigError,
    parse_complaints_section,
)
from tdmguard.policy.complaints.register import Register, RegisterError
from tdmguard.policy.complaints.report import records, register_report
from tdmguard.policy.complaints.schema import MIGRATIONS

from .conftest import run_cli

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def complaint(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "complainant": {"name": "Ana Autora", "organisation": "Editora", "email":
                        "ana@rights.example"},
        "capacity": "cmo", "rightsholder": "Editora Lda",
        "works": [{"description": "A novel", "urls": ["http://a.example/private/y"],
                   "domains": ["b.example"]}],
        "commitment": "1.3", "description": "Your crawler took my pages despite robots.txt.",
        "good_faith": True, "language": "pt",
    }
    data.update(over)
    return data


def submission(**over: Any) -> intake.Submission:
    sub, errors = intake.validate(complaint(**over))
    assert sub is not None, errors
    return sub


def config(tmp: Path, **over: Any) -> ComplaintsConfig:
    table = {"contact_email": "copyright@operator.example", "acknowledge_days": 7,
             "decide_days": 30, **over}
    return parse_complaints_section(table, path=str(tmp / "tdmguard.toml"))


def write_toml(tmp: Path, **over: Any) -> Path:
    table = {"contact_email": "copyright@operator.example", "acknowledge_days": 7,
             "decide_days": 30, **over}
    lines = ["[complaints]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    path = tmp / "tdmguard.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# -- intake and config ----------------------------------------------------------------

def test_validation_names_each_bad_field() -> None:
    _sub, errors = intake.validate({
        "complainant_name": "<script>x</script>", "complainant_email": "not-an-email",
        "capacity": "owner-ish", "urls": "ftp://x", "commitment": "1.9",
        "description": "short", "good_faith": "no", "language": "english!",
        "work_description": "bad\udcff utf8", "nonsense": "1"})
    assert set(errors) == {"complainant_email", "capacity", "urls", "commitment",
                           "description", "good_faith", "language", "work_description",
                           "nonsense"}
    assert errors["work_description"] == "is not valid UTF-8 text"
    assert errors["nonsense"] == "is not a known field"
    _sub, errors = intake.validate(complaint(works=[{"description": "x", "urls": []}],
                                             attachments=[{"filename": "a",
                                                           "content": b"x" * (6 << 20)}]))
    assert "works[0].urls" in errors and "attachments[0]" in errors
    _sub, errors = intake.validate(complaint(rightsholder=None, capacity="agent",
                                             complainant={"name": "A", "email": "a@b.cd"}))
    assert errors == {"rightsholder": "is required when acting for someone else: name the "
                      "rightsholder you represent"}
    _sub, errors = intake.validate(complaint(description="x\x1b[31m" * 5))
    assert errors == {"description": "contains control characters"}
    sub = submission(works=[{"description": "W", "domains": ["Bücher.Example."]}])
    assert sub.works[0].domains == ("xn--bcher-kva.example",)
    with pytest.raises(ComplaintsConfigError, match=r"complaints\.contact_email"):
        parse_complaints_section({}, path="t.toml")
    with pytest.raises(ComplaintsConfigError, match=r"complaints\.decide_days"):
        parse_complaints_section({"contact_email": "a@b.cd", "decide_days": "soon"},
                                 path="t.toml")


def test_register_is_private_whole_and_safe_under_concurrent_writers(tmp_path: Path) -> None:
    path = str(tmp_path / "c.db")
    sub = submission(attachments=[{"filename": "proof.txt", "content": b"proof"}])
    # Fork before this process opens the file: SQLite's locks must not cross a fork.
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_submit_in_process, args=(path, 15)) for _ in range(2)]
    for p in procs:
        p.start()
    reg = Register(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    def submit_many(n: int) -> None:
        for _ in range(n):
            reg.submit(sub, channel="web")

    threads = [threading.Thread(target=submit_many, args=(10,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in [*threads, *procs]:
        t.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    refs = [r["reference"] for r in reg.rows()]
    assert len(refs) == len(set(refs)) == 90
    assert sorted(refs)[-1].endswith("-000090")
    assert reg.conn.execute("SELECT count(*) FROM attachments").fetchone()[0] == 1
    assert reg.conn.execute("SELECT count(*) FROM locations").fetchone()[0] == 180
    assert reg.verify() == (True, 90, "")
    assert [m.name for m in MIGRATIONS.applied(reg.db)] == ["001_initial"]
    # A failure half-way stores nothing.
    before = reg.conn.execute("SELECT count(*) FROM complaints").fetchone()[0]
    with pytest.raises(RegisterError):
        reg.submit(sub, channel="pigeon")
    reg.conn.execute("CREATE TRIGGER boom BEFORE INSERT ON locations BEGIN "
                     "SELECT RAISE(ABORT, 'disk on fire'); END")
    with pytest.raises(RegisterError, match="disk on fire"):
        reg.submit(sub)
    reg.conn.execute("DROP TRIGGER boom")
    assert reg.conn.execute("SELECT count(*) FROM complaints").fetchone()[0] == before
    assert reg.verify()[0]
    reg.close()
    (tmp_path / "other.db").write_bytes(b"not sqlite at all, just text")
    for bad, why in ((tmp_path / "other.db", "not an SQLite file"),
                     (tmp_path, "is a directory"), (tmp_path / "no" / "c.db", "no directory")):
        with pytest.raises(RegisterError, match=why):
            Register(str(bad))


def _submit_in_process(path: str, n: int) -> None:
    reg = Register(path)
    for _ in range(n):
        reg.submit(submission(), channel="file")
    reg.close()


# -- lifecycle, deadlines, duplicates -------------------------------------------------

def test_every_transition_is_recorded_with_who_when_and_why(tmp_path: Path) -> None:
    reg = Register(str(tmp_path / "c.db"))
    cfg = config(tmp_path)
    a = reg.submit(submission(), now=T0)
    assert a == "TDMC-2026-000001"
    with pytest.raises(RegisterError, match="cannot uphold"):
        reg.transition(a, "uphold", by="eve", now=T0)
    mail.acknowledgement(reg, a, cfg, by="intake", now=T0 + timedelta(days=1))
    with pytest.raises(RegisterError, match="is acknowledged: cannot acknowledge"):
        mail.acknowledgement(reg, a, cfg, now=T0)
    reg.transition(a, "review", by="alice", why="looking at the ledger",
                   now=T0 + timedelta(days=2))
    reg.transition(a, "uphold", by="alice", why="robots.txt disallowed it",
                   now=T0 + timedelta(days=3))
    reg.transition(a, "close", by="bob", now=T0 + timedelta(days=4))
    b = reg.submit(submission(description="Something outside the copyright chapter."),
                   now=T0)
    with pytest.raises(RegisterError, match="reason code"):
        reg.transition(b, "reject", by="alice", now=T0)
    reg.transition(b, "reject", by="alice", reason="outside-chapter", why="privacy matter",
                   now=T0 + timedelta(days=40))
    rec = reg.get(a)
    assert [(h["action"], h["status"], h["actor"]) for h in rec["history"]] == [
        ("submitted", "received", "cli"), ("acknowledge", "acknowledged", "intake"),
        ("review", "under-review", "alice"), ("uphold", "upheld", "alice"),
        ("close", "closed", "bob")]
    assert rec["history"][3]["note"] == "robots.txt disallowed it"
    assert rec["history"][3]["at"] == "2026-11-05T09:00:00Z"
    assert rec["acknowledged_at"] == "2026-11-03T09:00:00Z" and rec["closed_at"]
    assert reg.get(b)["reason"] == "outside-chapter"
    rep = register_report(reg, cfg, now=T0 + timedelta(days=50))
    assert rep["decided"]["on_time"] == 1 and rep["decided"]["late"] == 1
    assert rep["outcomes"] == {"rejected/outside-chapter": 1, "upheld": 1}
    assert reg.verify()[0]


def test_deadlines_and_the_overdue_listing(tmp_path: Path) -> None:
    reg = Register(str(tmp_path / "c.db"))
    cfg = config(tmp_path, acknowledge_days=2, decide_days=10)
    fresh = reg.submit(submission(), now=T0)
    acked = reg.submit(submission(), now=T0)
    reg.transition(acked, "acknowledge", by="a", now=T0 + timedelta(days=1))
    done = reg.submit(submission(), now=T0)
    reg.transition(done, "reject", by="a", reason="manifestly-unfounded", now=T0)

    def late(days: float) -> dict[str, Any]:
        return {r["reference"]: r["overdue"] for r in
                records(reg, cfg, now=T0 + timedelta(days=days), only_overdue=True)}

    assert late(1) == {}
    assert late(3) == {fresh: "acknowledgement"}
    assert late(11) == {fresh: "decision", acked: "decision"}
    row = records(reg, cfg, now=T0)[0]
    assert (row["acknowledge_by"], row["decide_by"]) == ("2026-11-04T09:00:00Z",
                                                         "2026-11-12T09:00:00Z")
    reg.close()
    toml = write_toml(tmp_path, acknowledge_days=2, decide_days=10, register="c.db")
    proc = run_cli(["complaints", "list", "--overdue", "--config", str(toml), "--now",
                    "2026-11-05T09:00:00Z", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert [(r["reference"], r["overdue"]) for r in json.loads(proc.stdout)] == [
        (fresh, "acknowledgement")]


def test_identical_complaint_to_an_answered_one_is_flagged(tmp_path: Path) -> None:
    reg = Register(str(tmp_path / "c.db"))
    first = reg.submit(submission(), now=T0)
    pending_twin = reg.submit(submission(), now=T0)
    assert reg.get(pending_twin)["duplicate_of"] is None  # not answered yet
    reg.transition(first, "reject", by="a", reason="insufficiently-precise", now=T0)
    again = reg.submit(submission(description="  YOUR crawler took my pages despite\n"
                                  "robots.txt. "), now=T0)
    other = reg.submit(submission(complainant={"name": "Other", "email": "o@x.example"}),
                       now=T0)
    assert reg.get(again)["duplicate_of"] == first
    assert reg.get(other)["duplicate_of"] is None
    reg.transition(again, "reject", by="a", reason="duplicate", now=T0)
    msg = mail.decision_message(reg.get(again), config(tmp_path))
    assert f"The earlier complaint is {first}." in msg.get_content()


# -- bulk intake ----------------------------------------------------------------------

def test_bulk_intake_validates_each_row_and_reports_it(tmp_path: Path) -> None:
    toml = write_toml(tmp_path)
    head = ("complainant_name,complainant_email,capacity,rightsholder,work_description,"
            "urls,domains,commitment,description,good_faith\n")
    good = ("CMO Desk,desk@cmo.example,cmo,Author One,Song,http://a.example/s1 "
            "http://a.example/s2,,1.3,Copied despite our opt-out,yes\n")
    bad = "CMO Desk,nope,cmo,,Song,,,1.7,x,no\n"
    bad_utf8 = ("CMO Desk,desk@cmo.example,cmo,Author \xff,Song,http://a.example/s3,,1.3,"
                "Copied despite our opt-out,yes\n").encode("latin-1")
    (tmp_path / "batch.csv").write_bytes(head.encode() + good.encode() + bad.encode()
                                         + bad_utf8 + good.replace("s1", "s9").encode())
    proc = run_cli(["complaints", "add", "--from-csv", str(tmp_path / "batch.csv"),
                    "--config", str(toml), "--format", "json"])
    assert proc.returncode == 1, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["row"], r["accepted"], r["reference"]) for r in rows] == [
        (1, True, "TDMC-2026-000001"), (2, False, None), (3, False, None),
        (4, True, "TDMC-2026-000002")]
    assert set(rows[1]["errors"]) == {"complainant_email", "rightsholder", "urls",
                                      "commitment", "description", "good_faith"}
    assert rows[2]["errors"] == {"rightsholder": "is not valid UTF-8 text"}
    assert "2 accepted, 2 rejected of 4 rows" in proc.stderr
    (tmp_path / "batch.json").write_text(json.dumps([complaint(), {"complainant": "x"}, 7]))
    proc = run_cli(["complaints", "add", "--from-json", str(tmp_path / "batch.json"),
                    "--config", str(toml)])
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("row 1: accepted as TDMC-") and "REJECTED" in lines[1]
    assert lines[2] == "row 3: REJECTED: _: not an object of fields"
    everything = run_cli(["complaints", "list", "--config", str(toml), "--format", "json"])
    listed = json.loads(everything.stdout)
    assert len(listed) == 3 and {r["channel"] for r in listed} == {"file"}
    assert listed[0]["urls"] == ["http://a.example/s1", "http://a.example/s2"]
    one_bad = run_cli(["complaints", "add", "--config", str(toml), "--name", "A",
                       "--email", "a@b"])
    assert one_bad.returncode == 2 and one_bad.stderr.startswith("Error: --email: is not")
    assert "Traceback" not in one_bad.stderr


# -- emails over SMTP -----------------------------------------------------------------

@pytest.fixture
def smtp() -> Any:
    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    keep = Keep()
    controller = Controller(keep, hostname="127.0.0.1", port=port)
    controller.start()
    keep.port = port  # type: ignore[attr-defined]
    yield keep
    controller.stop()


def test_acknowledgement_and_decision_reach_an_smtp_server(tmp_path: Path, smtp: Any) -> None:
    cfg = config(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port,
                 contact_url="https://operator.example/complaints")
    reg = Register(cfg.register)
    ref = reg.submit(submission(), channel="web", now=T0)
    sent = mail.acknowledgement(reg, ref, cfg, by="web", now=T0)
    assert sent["smtp"] == "sent" and sent["error"] is None
    reg.transition(ref, "review", by="alice", now=T0)
    reg.transition(ref, "uphold", by="alice", why="The ledger shows the fetch.", now=T0)
    reservations.reserve(reg, ref, "url-prefix", "http://a.example/private/",
                         path=cfg.reservations, by="alice", now=T0)
    mail.decision(reg, ref, cfg, by="alice", now=T0)
    assert len(smtp.messages) == 2
    (ack_from, ack_to, ack_raw), (_f, _t, dec_raw) = smtp.messages
    assert ack_from == "copyright@operator.example" and ack_to == ["ana@rights.example"]
    ack = email.message_from_bytes(ack_raw, policy=policy.default)
    dec = email.message_from_bytes(dec_raw, policy=policy.default)
    assert ack["Subject"] == f"[{ref}] We received your complaint"
    assert ack["X-TDMGuard-Complaint"] == ref and ack["Content-Language"] == "pt"
    body = ack.get_content()
    assert "Dear Ana Autora" in body and "2026-12-02T09:00:00Z" in body
    assert "http://a.example/private/y" in body
    assert dec["Subject"] == f"[{ref}] Decision on your complaint: upheld"
    text = dec.get_content()
    assert "UPHELD" in text and "The ledger shows the fetch." in text
    assert "http://a.example/private/ (url-prefix)" in text
    assert "Redress:" in text and "Union and national law" in text
    assert "https://operator.example/complaints" in text
    # The same bytes in the outbox, private; the history names both messages.
    files = sorted(os.listdir(cfg.outbox))
    assert files == [f"{ref}-acknowledgement.eml", f"{ref}-decision.eml"]
    assert stat.S_IMODE(os.stat(Path(cfg.outbox) / files[0]).st_mode) == 0o600
    hist = reg.get(ref)["history"]
    assert hist[1]["data"]["email"]["message_id"] == ack["Message-ID"]
    assert hist[-1]["action"] == "notified" and hist[-1]["data"]["email"]["smtp"] == "sent"
    # An SMTP server that is gone: recorded, the message kept, nothing raised.
    other = reg.submit(submission(), now=T0)
    down = config(tmp_path, smtp_host="127.0.0.1", smtp_port=1)
    assert mail.acknowledgement(reg, other, down, now=T0)["smtp"] == "failed"
    assert reg.get(other)["status"] == "acknowledged"


# -- evidence, bundle and the feedback loop, from a real crawl ------------------------

@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("complaints-crawl")
    with FixtureWeb() as web:
        web.add("http://a.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
        web.add("http://a.example/", '<a href="/x">x</a><a href="/private/y">y</a>')
        web.add("http://a.example/x", "<html>x</html>")
        web.add("http://b.example/robots.txt", "User-agent: *\nAllow: /\n")
        web.add("http://b.example/", "<html>b</html>")
        db = tmp / "ledger.db"
        proc = run_cli(["crawl", "http://a.example/", "http://b.example/", "--user-agent",
                        "TestBot", "--db", str(db)], web)
        assert proc.returncode == 0, proc.stderr[-3000:]
        toml = write_toml(tmp)
        reg = Register(str(tmp / "complaints.db"))
        ref = reg.submit(submission(works=[{"description": "A novel", "urls": [
            "http://a.example/private/y", "http://a.example/x"], "domains": ["b.example"]}]),
            now=T0)
        reg.close()
        yield {"web": web, "tmp": tmp, "db": db, "toml": toml, "ref": ref}


def test_show_attaches_what_the_ledger_holds(crawled: dict[str, Any]) -> None:
    proc = run_cli(["complaints", "show", crawled["ref"], "--config", str(crawled["toml"]),
                    "--db", str(crawled["db"]), "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(proc.stdout)["evidence"]
    by_url = {u["url"]: u["decisions"] for u in ev["urls"]}
    (refused,) = by_url["http://a.example/private/y"]
    assert refused["allowed"] is False and refused["stage"] == "refused"
    assert refused["reasons"][0]["protocol"] == "robots.txt"
    (doc,) = refused["rights_documents"]
    assert doc["kind"] == "robots.txt" and doc["url"] == "http://a.example/robots.txt"
    assert doc["fetched_at"] and len(doc["sha256"]) == 64
    assert by_url["http://a.example/x"][0]["allowed"] is True
    (dom,) = ev["domains"]
    assert dom["domain"] == "b.example" and dom["by_verdict"] == {"allowed": 1}
    md = run_cli(["complaints", "show", crawled["ref"], "--config", str(crawled["toml"]),
                  "--db", str(crawled["db"]), "--format", "md"])
    assert "REFUSED (refused)" in md.stdout and "under robots.txt" in md.stdout


def test_bundle_holds_the_complaints_decisions(crawled: dict[str, Any]) -> None:
    out = crawled["tmp"] / "answer.zip"
    proc = run_cli(["complaints", "bundle", crawled["ref"], "--config", str(crawled["toml"]),
                    "--db", str(crawled["db"]), "--output", str(out)])
    assert proc.returncode == 0, proc.stderr
    z = zipfile.ZipFile(out)
    urls = {json.loads(line)["url"] for line in z.read("ledger-1/decisions.jsonl").splitlines()}
    assert urls == {"http://a.example/private/y", "http://a.example/x", "http://b.example/"}
    assert json.loads(z.read("manifest.json"))["subject"]["complaint"] == crawled["ref"]
    check = run_cli(["verify", "--bundle", str(out)])
    assert check.returncode == 0 and check.stdout.startswith("OK: 3 decisions")


def test_upholding_with_a_reservation_makes_crawl_check_and_audit_refuse_it(
        crawled: dict[str, Any]) -> None:
    toml, ref, web = str(crawled["toml"]), crawled["ref"], crawled["web"]
    for step in (["acknowledge", ref], ["review", ref, "--by", "alice"],
                 ["uphold", ref, "--by", "alice", "--why", "ledger shows it", "--reserve",
                  "url-prefix", "http://a.example/x"]):
        proc = run_cli(["complaints", *step, "--config", toml])
        assert proc.returncode == 0, proc.stderr
    listfile = crawled["tmp"] / "reservations.jsonl"
    (line,) = [json.loads(x) for x in listfile.read_text().splitlines()]
    assert line == {"pattern": "http://a.example/x", "kind": "url-prefix", "complaint": ref,
                    "added": line["added"], "withdrawn": None}
    before = web.count("http://a.example/x")
    proc = run_cli(["check", "http://a.example/x", "--user-agent", "TestBot", "--format",
                    "json", "-s", f"TDMGUARD_RESERVATIONS={listfile}"], web)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["allowed"] is False
    assert any(r["protocol"] == "rightsholder-reservation" and ref in r["detail"]
               for r in row["reasons"])
    crawl = run_cli(["crawl", "http://a.example/x", "--user-agent", "TestBot", "--format",
                     "json", "-s", f"TDMGUARD_RESERVATIONS={listfile}"], web)
    assert crawl.returncode == 0, crawl.stderr
    audit = run_cli(["audit", "-", "--fetch-pages", "--user-agent", "TestBot", "-q", "-s",
                     f"TDMGUARD_RESERVATIONS={listfile}"], web, input="http://a.example/x\n")
    assert audit.returncode == 0, audit.stderr
    for got in (json.loads(crawl.stdout)[0], json.loads(audit.stdout)):
        assert got["url"] == "http://a.example/x" and got["allowed"] is False
        assert [(r["protocol"], ref in r["detail"]) for r in got["reasons"]] == [
            ("rightsholder-reservation", True)]
    assert web.count("http://a.example/x") == before  # never requested
    proc = run_cli(["complaints", "withdraw-reservation", ref, "http://a.example/x", "--by",
                    "bob", "--why", "licence agreed", "--config", toml])
    assert proc.returncode == 0, proc.stderr
    last = json.loads(listfile.read_text().splitlines()[-1])
    assert last["withdrawn"] and last["added"] == line["added"]
    hist = json.loads(run_cli(["complaints", "show", ref, "--config", toml, "--format",
                               "json"]).stdout)
    assert [h["action"] for h in hist["history"]][-2:] == ["notified",
                                                          "reservation-withdrawn"]
    assert hist["reservations"][0]["withdrawn"]
    assert run_cli(["complaints", "verify", "--config", toml]).returncode == 0


# -- purge and verify -----------------------------------------------------------------

def test_purge_keeps_statistics_and_the_chain(tmp_path: Path) -> None:
    toml = write_toml(tmp_path)
    cfg = config(tmp_path)
    reg = Register(cfg.register)
    old = reg.submit(submission(attachments=[{"filename": "p.pdf", "content": b"%PDF"}]),
                     now=T0)
    mail.acknowledgement(reg, old, cfg, now=T0)
    reg.transition(old, "reject", by="a", reason="manifestly-unfounded", now=T0)
    recent = reg.submit(submission(), now=T0 + timedelta(days=300))
    undecided_old = reg.submit(submission(), now=T0)
    before = register_report(reg, cfg, now=T0 + timedelta(days=400))
    reg.close()
    proc = run_cli(["complaints", "purge", "--older-than", "365", "--config", str(toml),
                    "--now", "2027-12-01T00:00:00Z", "--by", "dpo"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [old]
    assert os.listdir(cfg.outbox) == []
    reg = Register(cfg.register)
    gone = reg.get(old)
    assert gone["complainant_email"] is None and gone["description"] is None
    assert gone["attachments"] == [] and gone["works"][0]["description"] is None
    assert gone["works"][0]["urls"] == ["http://a.example/private/y"]
    assert reg.get(recent)["complainant_email"] and reg.get(undecided_old)["description"]
    assert reg.conn.execute("SELECT count(*) FROM attachments").fetchone()[0] == 0
    raw = Path(cfg.register).read_bytes()
    assert b"ana@rights.example" in raw  # the two kept complaints
    assert reg.verify()[0]
    assert register_report(reg, cfg, now=T0 + timedelta(days=400)) | {"purged": 0} == before
    reg.close()
    assert run_cli(["complaints", "verify", "--config", str(toml)]).returncode == 0
    exported = run_cli(["complaints", "export", "--config", str(toml), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["reference"], r["complainant_email"], bool(r["purged_at"])) for r in rows] == [
        (old, "", True), (recent, "ana@rights.example", False),
        (undecided_old, "ana@rights.example", False)]
    md = run_cli(["complaints", "report", "--config", str(toml), "--now",
                  "2027-12-01T00:00:00Z"]).stdout
    assert "| Received | 3 |" in md and "- rejected/manifestly-unfounded: 1" in md
    assert "ana@" not in md


@pytest.mark.parametrize(("sql", "found"), [
    ("UPDATE complaints SET complainant_email = 'x@y.example' WHERE id = 1",
     "personal fields"),
    ("UPDATE complaints SET commitment = 'other' WHERE id = 1", "fields differ"),
    ("UPDATE complaints SET status = 'upheld' WHERE id = 1", "status is 'upheld'"),
    ("UPDATE history SET note = 'nothing to see' WHERE seq = 2", "fields edited"),
    ("DELETE FROM history WHERE seq = 2", "record 2 is missing"),
    ("DELETE FROM history WHERE seq = 3", "deleted from the end"),
    ("UPDATE locations SET value = 'http://c.example/' WHERE rowid = 1", "fields differ"),
])
def test_verify_detects_edits(tmp_path: Path, sql: str, found: str) -> None:
    reg = Register(str(tmp_path / "c.db"))
    ref = reg.submit(submission(), now=T0)
    reg.transition(ref, "acknowledge", by="a", why="ok", now=T0)
    reg.transition(ref, "review", by="a", now=T0)
    assert reg.verify() == (True, 3, "")
    conn = sqlite3.connect(reg.path)
    conn.execute(sql)
    conn.commit()
    conn.close()
    ok, _n, problem = reg.verify()
    assert not ok and found in problem, problem
    reg.close()
    if "complainant_email" in sql:
        toml = write_toml(tmp_path, register="c.db")
        proc = run_cli(["complaints", "verify", "--config", str(toml)])
        assert proc.returncode == 1 and proc.stderr.startswith("TAMPERED: complaint TDMC-")
