"""Verifiable crawler identity (Web Bot Auth): signed requests, the key directory.

One signed crawl over the fixture web, which verifies every request against the
directory that ``tdmguard policy keys`` wrote, serves most assertions.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.crawler.fixtureweb_signatures import directory_keys, verify_signature
from tdmguard.crawler.policy_keys_cli import keys
from tdmguard.middlewares.addon import TdmGuard
from tdmguard.middlewares.settings import ConfigError
from tdmguard.middlewares.signing import (
    COVERED,
    ORDER,
    RequestSigner,
    SigningMiddleware,
    _Message,
    jwk_thumbprint,
)
from tdmguard.policy.keys import DIRECTORY_PATH, generate_key

from .compat import make_crawler
from .conftest import ROOT, run_cli

AGENT = "https://crawler.example"
SIGNED = {"TDMGUARD_SIGNATURE_AGENT": AGENT}


def publish(out: Path, *key_paths: Path) -> tuple[dict, object]:
    args = ["--output-dir", str(out), "--format", "json"]
    for path in key_paths:
        args += ["--key", str(path)]
    result = CliRunner().invoke(keys, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((out / DIRECTORY_PATH).read_text()), result


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("signing")
    key = tmp / "key.pem"
    directory, result = publish(tmp / "public", key)
    return {"directory": directory, "key": key, "tmp": tmp, "keys_result": result}


@pytest.fixture(scope="module")
def crawl(published):
    key, directory = published["key"], published["directory"]
    web = FixtureWeb()
    web.add("http://news.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://news.example/a", "<html><body>a</body></html>")
    web.redirect("http://news.example/old", "http://news.example/new")
    web.add("http://news.example/new", "<html><body>new</body></html>")
    web.redirect("http://news.example/moved", "http://blog.example/post", status=302)
    web.add("http://news.example/flaky", "<html>down</html>", status=500)
    # A rights document behind a redirect (tdmguard follows those by hand).
    web.redirect("http://blog.example/robots.txt", "http://blog.example/rules.txt")
    web.add("http://blog.example/rules.txt", "User-agent: *\nAllow: /\n")
    web.add("http://blog.example/post", "<html><body>post</body></html>")
    web.verify_signatures(directory, agent=AGENT)
    urls = [f"http://news.example/{p}" for p in ("a", "old", "moved", "flaky")]
    with web:
        proc = run_cli(["check", *urls, "--user-agent", "SignBot", "--format", "json",
                        "-s", f"TDMGUARD_SIGNING_KEY={key}",
                        "-s", f"TDMGUARD_SIGNATURE_AGENT={AGENT}"], web)
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield {**published, "web": web, "decisions": json.loads(proc.stdout)}


def test_every_request_of_a_signed_crawl_verifies_against_the_published_directory(crawl):
    web, directory = crawl["web"], crawl["directory"]
    log = list(web.log)
    urls = [r.url for r in log]
    # Rights documents, redirects on both sides, a retried page: all signed.
    for url in ("http://news.example/robots.txt", "http://news.example/.well-known/tdmrep.json",
                "http://blog.example/robots.txt", "http://blog.example/rules.txt",
                "http://news.example/old", "http://news.example/new",
                "http://news.example/moved", "http://blog.example/post"):
        assert url in urls, url
    assert urls.count("http://news.example/flaky") == 3  # RETRY_TIMES = 2
    assert {r.signature for r in log} == {"valid"}, [(r.url, r.signature) for r in log]
    (kid,) = [k["kid"] for k in directory["keys"]]
    now = time.time()
    for r in log:
        assert r.headers["Signature-Agent"] == f'sig1="{AGENT}"'
        sig_input = r.headers["Signature-Input"]
        assert sig_input.startswith('sig1=("@authority" "signature-agent";key="sig1");')
        assert f'keyid="{kid}"' in sig_input and 'tag="web-bot-auth"' in sig_input
        assert 'alg="ed25519"' in sig_input
        params = dict(p.split("=", 1) for p in sig_input.split(";")[2:])
        assert now - 120 < int(params["created"]) <= now
        assert int(params["expires"]) - int(params["created"]) == 3600
    allowed = {d["url"]: d["allowed"] for d in crawl["decisions"]}
    assert allowed["http://news.example/a"] and allowed["http://news.example/moved"]


def _send(web: FixtureWeb, url: str, headers: dict[str, str]) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": web.proxy_url}))
    try:
        opener.open(urllib.request.Request(url, headers=headers), timeout=10).read()
    except urllib.error.HTTPError:
        pass
    return web.log[-1].signature or ""


def test_a_tampered_request_fails_verification(crawl):
    web = crawl["web"]
    signed = next(r for r in web.log if r.url == "http://news.example/a").headers
    sig = {k: signed[k] for k in ("Signature", "Signature-Input", "Signature-Agent")}
    # Replayed as sent (same authority, within its lifetime): still valid.
    assert _send(web, "http://news.example/a", sig) == "valid"
    # Another Signature-Agent: the signed member no longer matches.
    forged = _send(web, "http://news.example/a",
                   {**sig, "Signature-Agent": 'sig1="https://evil.example"'})
    assert forged.startswith("invalid:")
    # The same headers sent to another authority.
    assert _send(web, "http://blog.example/post", sig).startswith("invalid:")
    assert _send(web, "http://news.example/a", {"Signature-Agent": sig["Signature-Agent"]}) \
        == "missing"
    # Verified against someone else's directory: no key for this keyid.
    other = generate_key(crawl["tmp"] / "other.pem")
    from tdmguard.policy.keys import directory

    assert verify_signature("GET", "http://news.example/a", sig,
                            directory_keys(directory([other]))).startswith("invalid:")
    assert verify_signature("GET", "http://news.example/a", sig,
                            directory_keys(crawl["directory"])) == "valid"


def test_the_keys_command_makes_a_private_key_and_a_stable_directory(published):
    key, tmp = published["key"], published["tmp"]
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in key.read_bytes()
    (record,) = json.loads(published["keys_result"].stdout)
    assert record["generated"] is True and record["key_file"] == str(key)
    (jwk,) = published["directory"]["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "use"} and jwk["kid"] == record["keyid"]
    first = (tmp / "public" / DIRECTORY_PATH).read_bytes()
    again, result = publish(tmp / "public", key)
    assert json.loads(result.stdout)[0]["generated"] is False
    assert (tmp / "public" / DIRECTORY_PATH).read_bytes() == first
    # Rotation: the old and the new key published together.
    both, _ = publish(tmp / "rotating", key, tmp / "new.pem")
    assert [k["kid"] for k in both["keys"]][0] == jwk["kid"] and len(both["keys"]) == 2


def test_rfc_8037_thumbprint():
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.parametrize("args,message", [
    (["--key", "{tmp}/public/k.pem"], "is inside --output-dir"),
    (["--key", "{tmp}/garbage.pem"], "--key: {tmp}/garbage.pem holds no PEM private key"),
    (["--key", "{tmp}/rsa.pem"], "holds a RSAPrivateKey, not an Ed25519 private key"),
])
def test_the_keys_command_refuses_bad_keys(tmp_path, args, message):
    (tmp_path / "garbage.pem").write_text("not a key\n")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "rsa.pem").write_bytes(rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    args = [a.format(tmp=tmp_path) for a in args]
    result = CliRunner().invoke(keys, ["--output-dir", str(tmp_path / "public"), *args])
    assert result.exit_code == 2
    assert message.format(tmp=tmp_path) in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "public" / DIRECTORY_PATH).exists()


def _crawler(**values):
    crawler = make_crawler(settings_dict={"ADDONS": {TdmGuard: 0},
                                          "TDMGUARD_USER_AGENT": "SignBot", **values})
    return crawler


@pytest.mark.parametrize("key,agent,message", [
    ("missing.pem", AGENT, "TDMGUARD_SIGNING_KEY: cannot read .*missing.pem: No such file"),
    ("garbage.pem", AGENT, "holds no PEM private key"),
    ("key.pem", None, "TDMGUARD_SIGNATURE_AGENT is not set"),
    ("key.pem", "http://crawler.example", "TDMGUARD_SIGNATURE_AGENT: 'http://crawler.example' "
     "is not an https URL"),
])
def test_an_unusable_key_or_directory_url_stops_the_crawl(published, key, agent, message):
    tmp = published["tmp"]
    (tmp / "garbage.pem").write_text("-----BEGIN PRIVATE KEY-----\nxx\n")
    values = {"TDMGUARD_SIGNING_KEY": str(tmp / key)}
    if agent:
        values["TDMGUARD_SIGNATURE_AGENT"] = agent
    with pytest.raises(ConfigError, match=message):
        _crawler(**values)


def test_a_missing_key_file_is_one_line_and_exit_2_before_any_request(tmp_path):
    with FixtureWeb() as web:
        web.add("http://news.example/robots.txt", "User-agent: *\nAllow: /\n")
        proc = run_cli(["check", "http://news.example/", "--user-agent", "SignBot",
                        "-s", f"TDMGUARD_SIGNING_KEY={tmp_path}/nope.pem",
                        "-s", f"TDMGUARD_SIGNATURE_AGENT={AGENT}"], web)
        assert proc.returncode == 2
        assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
        assert "TDMGUARD_SIGNING_KEY: cannot read" in proc.stderr
        assert web.log == []


def test_the_middleware_signs_every_request_afresh(published):
    crawler = _crawler(TDMGUARD_SIGNING_KEY=str(published["key"]), **SIGNED)
    assert crawler.settings.getdict("DOWNLOADER_MIDDLEWARES")[SigningMiddleware] == ORDER
    assert SigningMiddleware not in _crawler().settings.getdict("DOWNLOADER_MIDDLEWARES")
    crawler.stats.open_spider()
    mw = SigningMiddleware.from_crawler(crawler)
    keys_ = directory_keys(published["directory"])
    # A path Scrapy leaves unencoded ("|") does not stop signing (only the
    # authority is covered); the port is part of the authority.
    request = Request("http://A.example:8080/x|y?q=1")
    mw.process_request(request)
    headers = {k.decode(): v[0].decode() for k, v in request.headers.items()}
    assert verify_signature("GET", "http://a.example:8080/", headers, keys_) == "valid"
    assert verify_signature("GET", "http://a.example/", headers, keys_).startswith("invalid")
    # A redirect or retry is a new request carrying the old headers: re-signed
    # for its own authority.
    moved = request.replace(url="https://b.example/z")
    mw.process_request(moved)
    moved_headers = {k.decode(): v[0].decode() for k, v in moved.headers.items()}
    assert moved_headers["Signature"] != headers["Signature"]
    assert verify_signature("GET", "https://b.example/z", moved_headers, keys_) == "valid"
    data = Request("data:,hello")
    mw.process_request(data)
    assert b"Signature" not in data.headers
    # An authority RFC 9421 cannot carry: not sent unsigned, not sent at all.
    with pytest.raises(IgnoreRequest, match="cannot sign"):
        mw.process_request(Request("http://a|b.example/"))
    assert crawler.stats.get_value("tdmguard/signing/signed") == 2
    assert crawler.stats.get_value(
        "tdmguard/signing/error/HTTPMessageSignaturesException") == 1


def test_the_signer_writes_the_headers_the_library_would():
    key, at = Ed25519PrivateKey.generate(), 1_800_000_000
    signer = RequestSigner(key, AGENT + "/.well-known/http-message-signatures-directory",
                           clock=lambda: at)
    made = dict(signer.headers("https", "a.example"))
    assert made["Signature-Agent"] == f'sig1="{AGENT}"'
    message = _Message("GET", "https://a.example/", {"Signature-Agent": made["Signature-Agent"]})
    created = datetime.datetime.fromtimestamp(at, datetime.UTC)
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=MappingKeyResolver(
        public_keys={}, private_keys={signer.keyid: key})).sign(
        message, key_id=signer.keyid, created=created,
        expires=created + datetime.timedelta(seconds=3600), label="sig1", tag="web-bot-auth",
        covered_component_ids=COVERED)
    assert made == message.headers


def test_the_key_helpers_import_neither_scrapy_nor_twisted():
    probe = ("import sys, tdmguard.policy.keys; print(sorted(m for m in sys.modules "
             "if m.split('.')[0] in ('scrapy', 'twisted')))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
