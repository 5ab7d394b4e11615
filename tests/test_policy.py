"""The copyright policy, the crawler disclosure and ``policy check`` (issue 12).

Documents are rendered from sample tdmguard.toml files and checked against the
effective settings and the protocol registry, not against fixed text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from defusedxml import ElementTree

from tdmguard.crawler.cli import cli
from tdmguard.middlewares import registry
from tdmguard.middlewares.ledger import Ledger
from tdmguard.middlewares.readers import aipref
from tdmguard.middlewares.readers import robots as robots_reader
from tdmguard.middlewares.vocab import Decision, Reason
from tdmguard.policy import state as st
from tdmguard.policy.config import ConfigError, crawl_settings, load
from tdmguard.policy.disclosure import FEED_FILE, PAGE_FILE
from tdmguard.policy.render import render_policy, robots_example

from .conftest import ROOT

DEMO = ROOT / "crawler" / "data" / "demo" / "tdmguard.toml"  # `tdmguard demo` uses it
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = '<script>alert(1)</script> & "q" \'s [x](javascript:alert(1)) *b* `c` | d </p>'


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def config_in(folder: Path, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tdmguard.toml"
    path.write_text(text if text is not None else DEMO.read_text(encoding="utf-8"),
                    encoding="utf-8")
    return path


def set_setting(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8").replace('[settings]\n', f"[settings]\n{line}\n")
    path.write_text(text, encoding="utf-8")


def entries(folder: Path) -> list:
    return ElementTree.parse(folder / FEED_FILE).getroot().findall(f"{ATOM}entry")


# -- the demo configuration, published, changed, re-published -----------------------------


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """The demo config rendered and published; then TDMRep switched off and
    the acknowledgement time changed: what each step produced."""
    root = tmp_path_factory.mktemp("flow")
    path = config_in(root)
    pub, doc, html = root / "pub", root / "policy.md", root / "policy.html"
    out: dict = {"root": root, "path": path, "pub": pub}
    assert invoke("policy", "render", "--config", str(path), "--output", str(doc)).exit_code == 0
    assert invoke("policy", "render", "--config", str(path), "--format", "html",
                  "--output", str(html)).exit_code == 0
    assert invoke("policy", "disclosure", "--config", str(path),
                  "--output-dir", str(pub)).exit_code == 0
    out["before"] = {"md": doc.read_text(), "html": html.read_text(),
                     "card": json.loads((pub / "demobot.json").read_text()),
                     "entries": len(entries(pub)),
                     "files": {p.name: p.read_bytes() for p in pub.iterdir() if p.is_file()}}
    check = ("policy", "check", "--config", str(path), "--policy", str(doc), "--policy",
             str(html), "--published", str(pub))
    out["check_before"] = invoke(*check)
    # re-running without a change: same bytes, no entry
    invoke("policy", "disclosure", "--config", str(path), "--output-dir", str(pub))
    out["rerun_files"] = {p.name: p.read_bytes() for p in pub.iterdir() if p.is_file()}
    invoke("policy", "render", "--config", str(path), "--output", str(doc))
    out["rerun_md"] = doc.read_text()
    # switch TDMRep off, change a response time
    set_setting(path, "TDMGUARD_TDMREP_ENABLED = false")
    path.write_text(path.read_text().replace("acknowledge_days = 7", "acknowledge_days = 3"))
    out["check_stale"] = invoke(*check)
    assert invoke("policy", "render", "--config", str(path), "--output", str(doc),
                  "--date", "2026-12-10").exit_code == 0
    out["check_half"] = invoke(*check)
    assert invoke("policy", "render", "--config", str(path), "--format", "html",
                  "--output", str(html), "--date", "2026-12-10").exit_code == 0
    out["publish"] = invoke("policy", "disclosure", "--config", str(path),
                            "--output-dir", str(pub), "--date", "2026-12-10")
    out["after"] = {"md": doc.read_text(), "html": html.read_text(),
                    "card": json.loads((pub / "demobot.json").read_text()),
                    "entries": len(entries(pub))}
    out["check_after"] = invoke(*check)
    invoke("policy", "disclosure", "--config", str(path), "--output-dir", str(pub),
           "--date", "2026-12-11")
    out["entries_rerun"] = len(entries(pub))
    return out


def test_policy_states_what_the_effective_settings_do(flow):
    cfg = load(str(DEMO))
    facts = st.facts(cfg)
    text, html = flow["before"]["md"], flow["before"]["html"]
    for p in registry.PROTOCOLS:  # every protocol on in the demo, by its registry title
        assert p.title.split(" (")[0] in html
    for c in facts["crawlers"]:
        assert c["mode"] == "strict" and c["purpose"] in ("train-ai", "search")
        for b in c["blocklists"]["lists"]:  # each blocklist with its edition
            assert b["edition"] in html and b["title"] in html
        for p in c["protocols"]:
            if p["fails_closed"]:
                assert p["fails_closed"].split(" (")[0] in html
    for needle in ("Measure 1.1", "Measure 1.2", "Measure 1.3", "Measure 1.4", "Measure 1.5",
                   "acknowledged within 7 days", "decided within 30 days",
                   "General Counsel (Legal department)", "Head of Data Engineering",
                   "Version 1", "2026-12-01", "DemoSearchBot", "indexes pages for search"):
        assert needle in text and needle in html, needle
    assert "placeholder" not in text.lower() and "TODO" not in text


def test_unchanged_inputs_give_the_same_bytes_and_no_new_entry(flow):
    assert flow["check_before"].exit_code == 0
    assert flow["rerun_files"] == flow["before"]["files"]
    assert flow["rerun_md"] == flow["before"]["md"]
    assert flow["before"]["entries"] == 1


def test_switching_a_protocol_off_changes_every_document_and_check_until_republished(flow):
    stale = flow["check_stale"]
    assert stale.exit_code == 1
    lines = stale.stdout.splitlines()
    for doc in ("policy.md", "policy.html", "index.html"):
        assert any(doc in line and "tdmrep no longer honoured (TDMGUARD_TDMREP_ENABLED off)"
                   in line for line in lines), doc
        assert any(doc in line and "acknowledged within 3 days (was 7)" in line
                   for line in lines), doc
    # the md was re-rendered, html and disclosure not yet: check still fails for them only
    half = flow["check_half"].stdout
    assert flow["check_half"].exit_code == 1 and "policy.md" not in half
    assert "policy.html" in half and "index.html" in half
    before, after = flow["before"], flow["after"]
    tdmrep = registry.BY_NAME["tdmrep"].title
    assert tdmrep in before["md"] and tdmrep not in after["md"].split("## Change log")[0]
    assert "Version 2" in after["md"] and "(2026-12-10)" in after["md"]
    assert "tdmrep no longer honoured" in after["md"].split("## Change log")[1]
    names = lambda card: [p["name"] for p in card["tdmguard"]["protocols"]]  # noqa: E731
    assert "tdmrep" in names(before["card"]) and "tdmrep" not in names(after["card"])
    assert "/.well-known/tdmrep.json" not in after["card"]["web_bot_auth"]["known-urls"]
    assert after["entries"] == before["entries"] + 1  # exactly one new entry
    assert flow["check_after"].exit_code == 0, flow["check_after"].stdout
    assert flow["entries_rerun"] == after["entries"]


def test_feed_is_atom_1_0(flow):
    root = ElementTree.parse(flow["pub"] / FEED_FILE).getroot()
    assert root.tag == f"{ATOM}feed"
    for field in ("id", "title", "updated"):
        assert (root.findtext(f"{ATOM}{field}") or "").strip()
    selfs = [link.get("href") for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert selfs == ["https://ai-lab.example/crawlers/feed.atom"]
    items = root.findall(f"{ATOM}entry")
    assert len(items) == 2
    ids = [e.findtext(f"{ATOM}id") for e in items]
    assert len(set(ids)) == 2 and all(i.startswith("tag:ai-lab.example,") for i in ids)
    for e in items:
        assert e.findtext(f"{ATOM}title") and e.findtext(f"{ATOM}updated")
    newest = items[0]
    assert newest.findtext(f"{ATOM}updated").startswith("2026-12-10")
    assert "tdmrep no longer honoured" in newest.findtext(f"{ATOM}content")
    assert root.findtext(f"{ATOM}updated") == newest.findtext(f"{ATOM}updated")


def test_disclosure_page_ip_files_and_cards(flow):
    pub = flow["pub"]
    page = (pub / PAGE_FILE).read_text()
    assert '<link rel="client-ranges" type="application/json" href="demobot-ip-ranges.json"' \
        in page
    assert "User-agent: DemoBot\nDisallow: /" in page
    assert "Pages rendered?" in page and "copyright@ai-lab.example" in page
    assert "tdmguard check https://your.site/page --user-agent DemoSearchBot --purpose search" \
        in page
    jafar = json.loads((pub / "demosearchbot-ip-ranges.json").read_text())
    assert set(jafar) == {"creationTime", "prefixes"}
    assert jafar["prefixes"] == [{"ipv4Prefix": "198.51.100.0/24"},
                                 {"ipv6Prefix": "2001:db8:20::/48"}]
    card = json.loads((pub / "demosearchbot.json").read_text())["web_bot_auth"]
    assert card["rfc9309-product-token"] == "DemoSearchBot" and card["purpose"] == "search"
    assert {"User-Agent", "Disallow", "Content-Usage"} <= set(card["rfc9309-compliance"])
    assert card["ips_uri"] == "https://ai-lab.example/crawlers/demosearchbot-ip-ranges.json"


def test_robots_example_blocks_and_reserves_as_the_readers_read_it():
    facts = st.facts(load(str(DEMO)))
    bot = facts["crawlers"][0]
    body = robots_example(bot).encode()
    robots = robots_reader.parse(body)
    assert not robots.match("http://site.example/page", ("DemoBot",)).allowed
    assert robots.match("http://site.example/page", ("OtherBot",)).allowed
    rules = aipref.ContentUsageRules.parse(body, ("OtherBot",), "http://site.example/robots.txt")
    reasons = rules.evaluate("http://site.example/page", True, "train-ai", "rfc")
    assert [r.verdict for r in reasons] == ["reserved"]


# -- escaping ---------------------------------------------------------------------------------


def test_hostile_strings_are_escaped_in_html_markdown_xml_and_json(tmp_path):
    text = DEMO.read_text(encoding="utf-8")
    text = text.replace('name = "Example AI Lab"', f"name = {json.dumps(HOSTILE)}")
    text = text.replace('data_use = "Publicly', f"data_use = {json.dumps(HOSTILE)[:-1]} Publicly")
    text = text.replace('  "Training with', f"  {json.dumps(HOSTILE)},\n  \"# Big ~~x~~\",\n"
                        '  "1. one",\n  "Training with')
    path = config_in(tmp_path, text)
    cfg = load(str(path))
    html, _, _ = render_policy(cfg, "html", history_file=str(tmp_path / "h.json"))
    md, _, _ = render_policy(cfg, "md", history_file=str(tmp_path / "h.json"))
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in html
    assert HOSTILE not in md
    assert r"\<script\>alert(1)\</script\> \& \"q\"" not in md  # quotes are not markdown
    assert r"\<script\>alert(1)\</script\> \& " in md and r"\[x\](javascript:alert(1))" in md
    assert r"\*b\* \`c\` \| d" in md
    assert "- \\# Big \\~\\~x\\~\\~\n" in md and "- 1\\. one\n" in md
    assert st.extract(html)["facts"]["organisation"]["name"] == HOSTILE
    assert st.extract(md)["facts"]["organisation"]["name"] == HOSTILE
    pub = tmp_path / "pub"
    result = invoke("policy", "disclosure", "--config", str(path), "--output-dir", str(pub))
    assert result.exit_code == 0, result.output
    page = (pub / PAGE_FILE).read_text()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    card = json.loads((pub / "demobot.json").read_text())
    assert card["tdmguard"]["data_use"].startswith(HOSTILE)
    feed = ElementTree.parse(pub / FEED_FILE).getroot()
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == HOSTILE
    assert feed.findtext(f"{ATOM}title").startswith(HOSTILE)


# -- configuration ------------------------------------------------------------------------


def test_crawl_settings_give_each_identity_its_own_tokens_purpose_and_user_agent(tmp_path):
    path = config_in(tmp_path)
    cfg = load(str(path))
    train, search = crawl_settings(cfg), crawl_settings(cfg, "demosearchbot")
    assert train["TDMGUARD_USER_AGENT"] == ["DemoBot"] and train["TDMGUARD_PURPOSE"] == "train-ai"
    assert search["TDMGUARD_USER_AGENT"] == ["DemoSearchBot"]
    assert search["TDMGUARD_PURPOSE"] == "search"
    assert search["USER_AGENT"].startswith("DemoSearchBot/")
    assert "TDMGUARD_RESERVATIONS" not in train  # no reservations file yet
    (tmp_path / "reservations.jsonl").write_text("")
    assert crawl_settings(load(str(path)))["TDMGUARD_RESERVATIONS"] == [
        str(tmp_path / "reservations.jsonl")]
    with pytest.raises(ConfigError, match="no crawler identity 'NoBot'"):
        crawl_settings(cfg, "NoBot")


def test_init_writes_a_starter_that_loads(tmp_path):
    target = tmp_path / "tdmguard.toml"
    assert invoke("policy", "init", "--output", str(target)).exit_code == 0
    cfg = load(str(target))
    assert cfg.crawlers[0].name == "ExampleBot" and "#" in target.read_text()
    again = invoke("policy", "init", "--output", str(target))
    assert again.exit_code == 2 and "--force" in again.output


def _replace(old: str, new: str):
    return lambda text: text.replace(old, new, 1)


INVALID = [
    (_replace('ip_ranges = ["192.0.2.0/24"', 'ip_ranges = ["192.0.2.300/24"'),
     "crawlers[0].ip_ranges[0]: '192.0.2.300/24' is not an IP network"),
    (_replace('"198.51.100.0/24", ', '"198.51.100.0/24", "10.0.0.1/8", '),
     "crawlers[1].ip_ranges[1]: '10.0.0.1/8' has host bits set"),
    (_replace('tokens = ["DemoSearchBot"]', 'tokens = ["DemoBot2"]'),
     "crawlers[1].tokens[0]: 'DemoBot2' is not an RFC 9309 product token"),
    (_replace('tokens = ["DemoSearchBot"]', 'tokens = ["DemoSearchBot", "demobot"]'),
     "crawlers[1].tokens[1]: 'demobot' is already a token of crawlers[0]"),
    (_replace('tokens = ["DemoSearchBot"]', 'tokens = ["GPTBot"]'),
     "crawlers[1].tokens[0]: 'GPTBot' is another operator's crawler token"),
    (_replace('purpose = "search"', 'purpose = "train-ai, search"'),
     "crawlers[1].purpose: 'train-ai, search' is not one of train-ai, search, ai-input"),
    (_replace('user_agent = "DemoBot/0.1', 'user_agent = "Mozilla/5.0'),
     "crawlers[0].user_agent: 'Mozilla/5.0 (+https://ai-lab.example/crawlers/)' does not "
     "carry the product token 'DemoBot'"),
    (_replace('info_url = "https://ai-lab.example/crawlers/"', 'info_url = "javascript:x"'),
     "crawlers[0].info_url: 'javascript:x' is not an http(s) URL"),
    (_replace('effective_date = 2026-12-01', 'effective_date = "2026-12-01"'),
     "policy.effective_date: must be a date like 2026-12-01 (no quotes)"),
    (_replace('next_review = 2027-06-01', 'next_review = 2026-01-01'),
     "policy.next_review: 2026-01-01 is not after policy.last_review (2026-12-01)"),
    (_replace('[roles]\npolicy = "General Counsel (Legal department)"\n', '[roles]\n'),
     "roles.policy: missing (required)"),
    (_replace('signatory = true', 'signatory = "yes"'),
     "organisation.signatory: must be true or false, not 'yes'"),
    (_replace('sme = true', 'smee = true'),
     "organisation.smee: unknown field (did you mean sme?)"),
    (_replace('TDMGUARD_MODE = "strict"', 'TDMGUARD_MODE = "lenient"'),
     "settings.TDMGUARD_MODE: 'lenient' is not usable: expected strict or rfc"),
    (_replace('TDMGUARD_MODE = "strict"', 'TDMGUARD_TDMREP_ENABLD = false'),
     "settings.TDMGUARD_TDMREP_ENABLD: unknown setting TDMGUARD_TDMREP_ENABLD: did you mean "
     "TDMGUARD_TDMREP_ENABLED?"),
    (_replace('TDMGUARD_MODE = "strict"', 'TDMGUARD_USER_AGENT = "X"'),
     "settings.TDMGUARD_USER_AGENT: comes from the crawler identity"),
    (_replace('TDMGUARD_MODE = "strict"', 'DOWNLOAD_DELAY = 3'),
     "settings.DOWNLOAD_DELAY: only TDMGUARD_* settings belong here"),
    (_replace('acknowledge_days = 7', 'acknowledge_days = "7"'),
     "complaints.acknowledge_days must be a whole number of days"),
    (_replace('[disclosure]\nbase_url = "https://ai-lab.example/crawlers/"\n', ''),
     "disclosure: missing (required"),
    (_replace('[[crawlers]]\ntokens = ["DemoBot"]', '[[crawlers]]\ntokens = ["DemoBot"\n'),
     "not valid TOML: "),
]


@pytest.mark.parametrize(("mutate", "message"), INVALID, ids=[m for _, m in INVALID])
def test_each_invalid_configuration_is_one_line_naming_the_field(tmp_path, mutate, message):
    text = DEMO.read_text(encoding="utf-8")
    changed = mutate(text)
    assert changed != text
    path = config_in(tmp_path, changed)
    with pytest.raises(ConfigError) as info:
        load(str(path))
    error = str(info.value)
    assert error.startswith(f"{path}: ") and "\n" not in error
    assert message in error, error


def test_cli_errors_exit_2_with_one_line(tmp_path):
    path = config_in(tmp_path, DEMO.read_text().replace('"192.0.2.0/24"', '"192.0.2.300/24"'))
    for args in (["policy", "render"], ["policy", "disclosure", "--output-dir", str(tmp_path)],
                 ["policy", "check", "--published", str(tmp_path)]):
        result = invoke(*args, "--config", str(path))
        assert result.exit_code == 2
        assert result.stderr.strip().count("\n") == 0 and "ip_ranges[0]" in result.stderr
    missing = invoke("policy", "render", "--config", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2 and "policy init" in missing.stderr


def test_other_drifts_are_named(tmp_path):
    path = config_in(tmp_path)
    listfile = tmp_path / "own.txt"
    listfile.write_text("# name: own-list\n# kind: authoritative\n# edition: 2026-01\n"
                        "# source: a court order\nlisted.example\n")
    set_setting(path, f'TDMGUARD_BLOCKLISTS = ["{listfile.name}"]')
    doc = tmp_path / "p.md"
    assert invoke("policy", "render", "--config", str(path), "--output", str(doc)).exit_code == 0
    assert "own-list" in doc.read_text()
    listfile.write_text(listfile.read_text().replace("2026-01", "2026-06"))
    text = path.read_text().replace('tokens = ["DemoSearchBot"]',
                                    'tokens = ["DemoSearchBot", "DemoIndexer"]')
    path.write_text(text.replace("decide_days = 30", "decide_days = 20"))
    result = invoke("policy", "check", "--config", str(path), "--policy", str(doc))
    assert result.exit_code == 1
    out = result.stdout
    assert "blocklist own-list edition '2026-01' -> '2026-06'" in out
    assert "crawler DemoSearchBot.tokens: added 'DemoIndexer'" in out
    assert "complaints are decided within 20 days (was 30)" in out


def test_extra_noai_directives_are_stated_and_their_change_is_drift(tmp_path):
    path = config_in(tmp_path)
    doc = tmp_path / "p.md"
    assert invoke("policy", "render", "--config", str(path), "--output", str(doc)).exit_code == 0
    assert "TDMGUARD_NOAI_EXTRA_DIRECTIVES" not in doc.read_text()
    set_setting(path, 'TDMGUARD_NOAI_EXTRA_DIRECTIVES = ["noindex"]')
    result = invoke("policy", "check", "--config", str(path), "--policy", str(doc))
    assert result.exit_code == 1
    assert 'crawler DemoBot: noai.extra_directives added: ["noindex"]' in result.stdout
    again = tmp_path / "q.md"
    assert invoke("policy", "render", "--config", str(path), "--output",
                  str(again)).exit_code == 0
    assert ("(also noindex, read as a reservation: TDMGUARD_NOAI_EXTRA_DIRECTIVES)"
            in again.read_text())


def test_template_answers_from_ledgers(tmp_path):
    path = config_in(tmp_path)
    db = tmp_path / "ledger.db"
    ledger = Ledger(str(db), domain_of=lambda url: url.split("/")[2])
    ledger.start_crawl(started_at="2026-03-04T10:00:00Z", tokens=["DemoBot"],
                       user_agent="DemoBot/0.1", mode="strict", purpose="train-ai", settings={})
    ledger.add(Decision(url="http://a.example/", allowed=True, at="2026-03-04T10:00:01Z",
                        origin="http://a.example", stage="fetched", status=200,
                        content_length=500, reasons=[Reason("robots.txt", "permitted")]))
    ledger.add(Decision(url="http://b.example/", allowed=False, at="2026-03-04T10:00:02Z",
                        origin="http://b.example", stage="refused",
                        reasons=[Reason("robots.txt", "reserved", rule="Disallow: /")]))
    ledger.finish_crawl("2026-05-06T00:00:00Z")
    ledger.close()
    doc = tmp_path / "out" / "policy.md"
    doc.parent.mkdir()
    result = invoke("policy", "render", "--config", str(path), "--output", str(doc),
                    "--db", str(db))
    assert result.exit_code == 0, result.output
    text = doc.read_text()
    assert "Period of data collection: 03/2026 to 05/2026" in text
    assert "DemoSearchBot**: configured, but no crawl by it is recorded" in text
    assert "[top-domains.csv](top-domains.csv)" in text
    assert (doc.parent / "top-domains.csv").read_text() == "domain,bytes,pages\na.example,500,1\n"
    assert "robots.txt: 1 pages refused before they were requested" in text
    for word in ("CAPTCHA", "Password-protected", "Paywalls", "robots.txt"):
        assert word in text.split("### 2.3")[1]


def test_date_comes_from_source_date_epoch_not_the_clock(tmp_path, monkeypatch):
    path = config_in(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1796083200))  # 2026-12-01T00:00:00Z
    cfg = load(str(path))
    text, _, _ = render_policy(cfg, history_file=str(tmp_path / "h.json"))
    assert "in force from 2026-12-01" in text
    set_setting(path, "TDMGUARD_NOAI_ENABLED = false")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1796083200 + 5 * 86400))
    text2, _, _ = render_policy(load(str(path)), history_file=str(tmp_path / "h.json"))
    assert "Version 2, in force from 2026-12-06" in text2
    history = json.loads((tmp_path / "h.json").read_text())
    assert [v["date"] for v in history["versions"]] == ["2026-12-01", "2026-12-06"]


def test_user_templates_override_ours(tmp_path):
    path = config_in(tmp_path)
    own = tmp_path / "tpl"
    own.mkdir()
    (own / "summary.md").write_text("{{ f.organisation.name }} v{{ version }}\n")
    result = invoke("policy", "render", "--config", str(path), "--public-summary",
                    "--templates", str(own))
    assert result.stdout == "Example AI Lab v1\n"
    summary = invoke("policy", "render", "--config", str(path), "--public-summary").stdout
    full = invoke("policy", "render", "--config", str(path)).stdout
    visible = lambda text: text.split("<!-- tdmguard-state")[0]  # noqa: E731
    assert "public summary" in summary and len(visible(summary)) < len(visible(full)) / 2


def test_the_committed_examples_match_the_demo_configuration():
    examples = ROOT / "docs" / "examples"
    # rendered from the demo's own configuration, copied beside them
    assert (examples / "tdmguard.toml").read_bytes() == DEMO.read_bytes()
    assert (examples / "disclosure" / PAGE_FILE).exists()
    cfg = load(str(DEMO))
    from tdmguard.policy.check import check

    docs = tuple(str(examples / n) for n in ("policy.md", "policy.html", "policy-summary.md"))
    problems = check(cfg, str(examples / "disclosure"), docs)
    assert problems == [], ("docs/examples no longer match what tdmguard does; re-render them "
                            "with python docs/examples/make_examples.py:\n" + "\n".join(problems))
    for name in docs:
        assert "placeholder" not in Path(name).read_text().lower()


def test_every_test_the_readme_maps_a_policy_section_to_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Copyright policy and crawler disclosure")[1].split("\n## ")[0]
    import re

    cited = re.findall(r"`(test_\w+\.py)::(test_\w+)`", section)
    cited += [(f, t) for f, t in _continued(section)]
    assert len(cited) > 15
    for file, name in cited:
        source = (ROOT / "tests" / file).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"{file}::{name}"


def _continued(section: str):
    """``::name`` cited after a ``file::name`` in the same cell: same file."""
    import re

    for cell in section.split("|"):
        current = None
        for m in re.finditer(r"`(?:(test_\w+\.py))?::(test_\w+)`", cell):
            if m.group(1):
                current = m.group(1)
            elif current:
                yield current, m.group(2)


def test_a_signing_key_puts_its_directory_in_the_disclosure_and_a_new_key_is_a_change(tmp_path):
    from tdmguard.policy.keys import DIRECTORY_PATH, generate_key, public_jwk

    path = config_in(tmp_path / "conf")
    key = generate_key(tmp_path / "key.pem")
    set_setting(path, f'TDMGUARD_SIGNING_KEY = "{tmp_path / "key.pem"}"\n'
                      'TDMGUARD_SIGNATURE_AGENT = "https://ai-lab.example"')
    pub = tmp_path / "pub"
    assert invoke("policy", "disclosure", "--config", str(path),
                  "--output-dir", str(pub)).exit_code == 0
    kid = public_jwk(key)["kid"]
    directory = json.loads((pub / DIRECTORY_PATH).read_text())
    assert [k["kid"] for k in directory["keys"]] == [kid]
    card = json.loads((pub / "demobot.json").read_text())
    assert card["jwks_uri"] == "https://ai-lab.example"
    assert "RFC 9421" in (pub / PAGE_FILE).read_text()
    (tmp_path / "key.pem").unlink()
    generate_key(tmp_path / "key.pem")  # a rotated key
    result = invoke("policy", "check", "--config", str(path), "--published", str(pub))
    assert result.exit_code == 1 and "signing.key_ids" in result.stdout


def test_robots_switched_off_is_said_and_no_robots_example_is_offered(tmp_path):
    path = config_in(tmp_path)
    set_setting(path, "TDMGUARD_ROBOTSTXT_ENABLED = false")
    cfg = load(str(path))
    text, _, _ = render_policy(cfg, "md", history_file=str(tmp_path / "h.json"))
    assert "Does not read robots.txt: TDMGUARD\\_ROBOTSTXT\\_ENABLED is off." in text
    pub = tmp_path / "pub"
    assert invoke("policy", "disclosure", "--config", str(path),
                  "--output-dir", str(pub)).exit_code == 0
    assert "Disallow: /" not in (pub / PAGE_FILE).read_text()
    card = json.loads((pub / "demobot.json").read_text())["web_bot_auth"]
    assert card["rfc9309-compliance"] == [] and "/robots.txt" not in card["known-urls"]


def test_advisory_lists_in_warn_mode_are_not_said_to_block(tmp_path):
    path = config_in(tmp_path)
    set_setting(path, 'TDMGUARD_BLOCKLIST_ADVISORY = "warn"')
    c = st.facts(load(str(path)))["crawlers"][0]
    from tdmguard.policy.render import statements

    says = statements(c)["blocklists"]
    advisory = [b for b in c["blocklists"]["lists"] if b["kind"] == "advisory"]
    blocking = len(c["blocklists"]["lists"]) - len(advisory)
    assert advisory and f"Hosts on {blocking} blocklists" in says
    assert says.split("never contacted")[1].split("A match")[0].count("advisory") == 0
    assert "is only logged and recorded (TDMGUARD_BLOCKLIST_ADVISORY is warn)" in says
