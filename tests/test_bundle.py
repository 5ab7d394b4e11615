"""Evidence bundles: written for a URL or a domain from a real crawl's ledger,
checked without the ledger (by tdmguard and by plain Python), tampering found."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import run_cli


@pytest.fixture
def ledger(web, tmp_path: Path) -> Path:
    for host in ("a.example", "b.example"):
        web.add(f"http://{host}/robots.txt", "User-agent: *\nDisallow: /private/\n")
        web.add(f"http://{host}/", '<a href="/x">x</a><a href="/private/y">y</a>')
        web.add(f"http://{host}/x", "<html>x</html>")
    db = tmp_path / "ledger.db"
    proc = run_cli(["crawl", "http://a.example/", "http://b.example/", "--user-agent",
                    "TestBot", "--db", str(db)], web)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return db


def _rewrite(src: Path, dst: Path, name: str, edit) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, edit(data) if item.filename == name else data)


def test_a_url_bundle_checks_without_the_ledger(ledger: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "a.zip"
    proc = run_cli(["evidence", "http://a.example/private/y", "--db", str(ledger),
                    "--bundle", str(bundle), "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert "Wrote" in proc.stderr
    names = zipfile.ZipFile(bundle).namelist()
    assert {"manifest.json", "README.md", "verify.py", "ledger-1/chain.jsonl",
            "ledger-1/decisions.jsonl"} <= set(names)
    manifest = json.loads(zipfile.ZipFile(bundle).read("manifest.json"))
    (decision,) = [json.loads(line) for line in
                   zipfile.ZipFile(bundle).read("ledger-1/decisions.jsonl").splitlines()]
    assert decision["url"] == "http://a.example/private/y" and decision["allowed"] == 0
    assert manifest["ledgers"][0]["decisions"] == [decision["id"]]
    robots = zipfile.ZipFile(bundle).read(
        f"ledger-1/documents/{json.loads(decision['snapshots'])['robots.txt']}")
    assert robots == b"User-agent: *\nDisallow: /private/\n"
    # With the ledger gone: tdmguard, and plain Python in a fresh interpreter.
    ledger.unlink()
    check = run_cli(["verify", "--bundle", str(bundle)])
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("OK: 1 decisions")
    script = tmp_path / "verify.py"
    script.write_bytes(zipfile.ZipFile(bundle).read("verify.py"))
    plain = subprocess.run([sys.executable, "-I", str(script), str(bundle)],
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("OK: 1 decisions")


def test_a_domain_bundle_holds_every_decision_of_the_domain(ledger: Path,
                                                            tmp_path: Path) -> None:
    bundle = tmp_path / "b.zip"
    proc = run_cli(["evidence", "--domain", "b.example", "--db", str(ledger),
                    "--bundle", str(bundle)])
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in
            zipfile.ZipFile(bundle).read("ledger-1/decisions.jsonl").splitlines()]
    assert {r["url"] for r in rows} == {"http://b.example/", "http://b.example/x",
                                        "http://b.example/private/y"}
    assert run_cli(["verify", "--bundle", str(bundle)]).returncode == 0


@pytest.mark.parametrize(("name", "edit", "expected"), [
    ("ledger-1/chain.jsonl", lambda data: data.replace(b'"refused"', b'"fetched"', 1),
     "does not match its hash"),
    ("ledger-1/chain.jsonl", lambda data: b"\n".join(data.splitlines()[:-1]) + b"\n",
     "does not end at the hash"),
])
def test_tampering_with_the_chain_is_found(ledger, tmp_path, name, edit, expected) -> None:
    bundle, bad = tmp_path / "a.zip", tmp_path / "bad.zip"
    run_cli(["evidence", "http://a.example/private/y", "--db", str(ledger),
             "--bundle", str(bundle)])
    _rewrite(bundle, bad, name, edit)
    check = run_cli(["verify", "--bundle", str(bad)])
    assert check.returncode == 1 and expected in check.stderr


def test_an_edited_document_is_found(ledger: Path, tmp_path: Path) -> None:
    bundle, bad = tmp_path / "a.zip", tmp_path / "bad.zip"
    run_cli(["evidence", "http://a.example/private/y", "--db", str(ledger),
             "--bundle", str(bundle)])
    doc = next(n for n in zipfile.ZipFile(bundle).namelist() if "/documents/" in n)
    _rewrite(bundle, bad, doc, lambda data: data.replace(b"/private/", b"/nothing/"))
    check = run_cli(["verify", "--bundle", str(bad)])
    assert check.returncode == 1
    assert "the bytes are not the document the chain names" in check.stderr


def test_bad_bundle_inputs(tmp_path: Path, ledger: Path) -> None:
    proc = run_cli(["verify", "--bundle", str(tmp_path / "missing.zip")])
    assert proc.returncode == 2 and "no bundle at" in proc.stderr
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    proc = run_cli(["verify", "--bundle", str(junk)])
    assert proc.returncode == 1 and "not a tdmguard evidence bundle" in proc.stderr
    proc = run_cli(["evidence", "http://a.example/never", "--db", str(ledger),
                    "--bundle", str(tmp_path / "none.zip")])
    assert proc.returncode == 2 and "no decision to bundle" in proc.stderr
    proc = run_cli(["evidence", "http://a.example/x", "--db", str(ledger),
                    "--bundle", str(tmp_path / "no-such-dir" / "x.zip")])
    assert proc.returncode == 2 and "cannot write the bundle" in proc.stderr
    assert "Traceback" not in proc.stderr
