"""The copyright policy (Code of Practice Measures 1.1 to 1.5) and its public summary.

``tdmguard policy render`` fills a Jinja2 template (``policy.md``,
``policy.html``, ``summary.md``, ``summary.html`` under ``data/templates``,
or a directory of the user's own with ``--templates``) from
:func:`tdmguard.policy.state.facts`: every statement about what the crawlers
do comes from the effective settings and the protocol registry, never from
text typed in the configuration. HTML is autoescaped; in Markdown every value
is escaped so it renders as exactly its text.

Versions: the history file (``policy.history`` in ``tdmguard.toml``) keeps
each version's number, date and changes; a render whose state differs from
the last version's adds a version, dated by ``--date``, ``SOURCE_DATE_EPOCH``
or the configuration's ``policy.effective_date``, never the wall clock. The
same inputs give byte-identical documents. Each document carries its state
(an HTML ``<script type="application/json">`` or a Markdown comment), which
``policy check`` compares with the configuration.

With ledgers (``--db``), the answers to sections 2.3 and 3.1 of the
Commission's training-content summary template are filled from what the
crawls recorded: names, purposes, the collection period per crawler
(MM/YYYY) and the most relevant domains, written to a CSV file beside the
document.

Why it is long: no sentence about what a crawler does is typed by the provider:
:func:`statements` derives each one from the facts, with a branch for each
protocol and setting a crawler can have on or off, and the same context renders
in two formats, so Markdown and HTML each have their own escaping filters. The
ledger answers for the training-content template and the version history are
the rest.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from tdmguard.middlewares import describe
from tdmguard.middlewares.escape import escape_md
from tdmguard.middlewares.vocab import SEARCH
from tdmguard.policy import state as st
from tdmguard.policy.config import ConfigError, ProviderConfig, history_path
from tdmguard.policy.differences import differences
from tdmguard.policy.training_summary import summary

FORMATS = ("md", "html")
TEMPLATES = Path(__file__).parent / "data" / "templates"

PURPOSE_TEXT = {
    "train-ai": "collecting training data for general-purpose AI models",
    "search": "indexing pages for search; the content is not used to train AI models",
    "ai-input": "fetching pages as input to AI systems at a user's request "
                "(not for training)",
}


# -- environments -----------------------------------------------------------------------


_MD_LINE_START = re.compile(r"([#+=-])|(\d+)([.)])")


def _md_finalize(value: Any) -> Any:
    """A value as Markdown text that renders as exactly itself: the inline
    punctuation escaped (:func:`~tdmguard.middlewares.escape.escape_md`), plus
    strike-through tildes and what would start a heading or a list item."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    text = escape_md(value).replace("~", "\\~")
    start = _MD_LINE_START.match(text)
    if start and start.group(1):
        text = "\\" + text
    elif start:
        text = f"{start.group(2)}\\{start.group(3)}{text[start.end():]}"
    return text


def _md_code(value: Any) -> Markup:
    text = " ".join(str(value).split("\n"))
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


def _md_link(url: Any, text: Any = None) -> Markup:
    safe = quote(str(url), safe=":/?#@!$&'*+,;=%~-._[]")
    label = escape_md(text if text is not None else url)
    return Markup(f"[{label}]({safe})")


def _md_block(value: Any) -> Markup:
    """A multi-line text as a fenced code block (robots.txt examples)."""
    text = str(value)
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return Markup(f"{fence}\n{text}\n{fence}")


def _html_code(value: Any) -> Markup:
    return Markup("<code>{}</code>").format(value)


def _html_link(url: Any, text: Any = None) -> Markup:
    return Markup('<a href="{}">{}</a>').format(url, text if text is not None else url)


def _html_block(value: Any) -> Markup:
    return Markup("<pre><code>{}</code></pre>").format(value)


@cache
def environment(fmt: str, templates: str | None = None) -> jinja2.Environment:
    """The Jinja2 environment for *fmt*: HTML autoescaped; Markdown escaped by
    ``finalize``; the user's *templates* directory first, then ours."""
    loaders: list[jinja2.BaseLoader] = []
    if templates:
        if not Path(templates).is_dir():
            raise ConfigError(f"--templates {templates}: not a directory")
        loaders.append(jinja2.FileSystemLoader(templates))
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATES)))
    loader = jinja2.ChoiceLoader(loaders)
    if fmt == "html":
        env = jinja2.Environment(loader=loader, autoescape=True, keep_trailing_newline=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True,
                                 lstrip_blocks=True)
        env.filters.update(code=_html_code, link=_html_link, block=_html_block)
    else:
        env = jinja2.Environment(loader=loader, autoescape=False, finalize=_md_finalize,
                                 keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                                 trim_blocks=True, lstrip_blocks=True)
        env.filters.update(code=_md_code, link=_md_link, block=_md_block)
    env.filters["month"] = lambda iso: f"{iso[5:7]}/{iso[0:4]}" if iso else ""
    env.filters["hours"] = lambda seconds: f"{float(seconds) / 3600:g}"
    return env


def render_template(name: str, fmt: str, context: dict[str, Any],
                    templates: str | None = None) -> str:
    env = environment(fmt, templates)
    try:
        template = env.get_template(f"{name}.{fmt}")
        return template.render(**context)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"template {exc.name} not found") from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"template {name}.{fmt}: {type(exc).__name__}: {exc}") from None


# -- what each crawler does, in sentences ---------------------------------------------


def _extra(protocol: dict[str, Any]) -> str:
    extra = protocol.get("extra_directives") or []
    return (f"; also {', '.join(extra)}, read as a reservation "
            "(TDMGUARD_NOAI_EXTRA_DIRECTIVES)") if extra else ""


def statements(c: dict[str, Any]) -> dict[str, str]:
    """Sentences about one crawler, each derived from its facts; the keys are
    what the training-content template's evaluators look for."""
    names = {p["name"]: p for p in c["protocols"]}
    out: dict[str, str] = {}
    out["identity"] = (f"Identifies itself in every request with the User-Agent "
                       f"\"{c['user_agent']}\" (product token{'s' if len(c['tokens']) > 1 else ''} "
                       f"{', '.join(c['tokens'])}) and never sends credentials: HTTP "
                       "authentication is switched off and a crawl configured with "
                       "credentials refuses to start.")
    if "robots.txt" in names:
        delay = (" It honours Crawl-delay." if "Crawl-delay" in c["rfc9309_compliance"]
                 else "")
        ttl = c["robots"]["cache_ttl"]
        fresh = (f"re-reads it at least every {ttl / 3600:g} hours" if ttl > 0 else
                 "never keeps it cached")
        out["robots"] = ("Reads robots.txt (RFC 9309) before any other request to a site and "
                         f"{fresh}; pages it disallows for the crawler's product token are never "
                         "requested. "
                         f"An unreachable robots.txt (HTTP 429, 5xx or a network error) is "
                         f"read as a complete disallow.{delay}")
    else:
        out["robots"] = ("Does not read robots.txt: TDMGUARD_ROBOTSTXT_ENABLED is off.")
    others = [p for p in c["protocols"] if p["kind"] == "opt-out" and p["name"] != "robots.txt"]
    if others:
        out["protocols"] = (f"In {c['mode']} mode ({c['mode_text']}) it also honours "
                            + "; ".join(f"{p['title']} ({', '.join(r['what'] for r in p['reads'])}"
                                        + _extra(p) + ")" for p in others) + ".")
    else:
        out["protocols"] = "It honours no machine-readable protocol besides robots.txt."
    closed = [p["fails_closed"] for p in c["protocols"] if p["fails_closed"]]
    out["fails_closed"] = ("It refuses a page, failing closed, when: " + "; ".join(closed) + "."
                           if closed else "")
    off = c["switched_off"]
    out["switched_off"] = ("Switched off in this configuration: " + "; ".join(
        f"{o['name']} ({', '.join(o['switches'])} off)" for o in off) + "." if off else "")
    lawful = names.get("lawful-access")
    if lawful:
        out["password"] = ("Password-protected pages are never accessed: responses with HTTP "
                           "401 or 407 are dropped before any use, and a redirect to a login "
                           "wall is refused before it is requested.")
        out["paywall"] = ("Paywalls and subscription models are respected: responses with "
                          "HTTP 402, 403 or 451, and pages marked as not free "
                          "(schema.org isAccessibleForFree false), are dropped before any "
                          "use; a redirect to a subscription or consent wall is refused "
                          "before it is requested.")
    else:
        out["password"] = ("Never sends credentials; the lawful-access check "
                           "(TDMGUARD_LAWFUL_ACCESS_ENABLED) is switched off, so pages "
                           "answering 401 are not dropped by tdmguard.")
        out["paywall"] = ("The lawful-access check (TDMGUARD_LAWFUL_ACCESS_ENABLED) is switched "
                          "off: paywalled pages are not dropped by tdmguard.")
    render = ("Pages are rendered in a browser, " if c["renders_pages"] else
              "Pages are not rendered and JavaScript is never executed, ")
    wait = c["politeness"]
    hold = (f"an HTTP 429 or 503 answer (as CAPTCHA and bot-challenge services send) makes it "
            f"wait as long as Retry-After asks, up to {wait['max_wait']:g} seconds, "
            "and never work around it" if wait["enabled"] else
            "HTTP 429 and 503 answers are not given a wait (TDMGUARD_POLITENESS_ENABLED off)")
    out["captcha"] = (render + "and the crawler has no means to solve or bypass a CAPTCHA: "
                      + ("a challenge answered with HTTP 403 is dropped before any use, and "
                         if lawful else "") + hold + ".")
    lists = c["blocklists"]
    warn_only = [b for b in lists["lists"]
                 if lists["advisory"] == "warn" and b["kind"] == "advisory"]
    blocking = [b for b in lists["lists"] if b not in warn_only]
    if lists["enabled"]:
        named = "; ".join(f"{b['title']} ({b['kind']}, edition {b['edition']})"
                          for b in blocking)
        out["blocklists"] = (f"Hosts on {len(blocking)} blocklist"
                             f"{'' if len(blocking) == 1 else 's'} of sites recognised as "
                             "infringing copyright are never contacted, not even for "
                             f"robots.txt: {named or 'none'}."
                             + (" A match on the advisory list"
                                f"{'' if len(warn_only) == 1 else 's'} "
                                + "; ".join(f"{b['title']} (edition {b['edition']})"
                                            for b in warn_only)
                                + " is only logged and recorded "
                                "(TDMGUARD_BLOCKLIST_ADVISORY is warn)." if warn_only else "")
                             + " A list file that cannot be read stops the crawl before it "
                             "starts.")
    else:
        out["blocklists"] = ("Blocklists are switched off (TDMGUARD_BLOCKLIST_ENABLED): "
                             "no infringing-site list is applied.")
    out["purpose"] = PURPOSE_TEXT.get(c["purpose"], c["purpose"])
    short = [p["title"].split(" (")[0] for p in others]
    closed_names = [p["title"].split(" (")[0] for p in c["protocols"] if p["fails_closed"]]
    out["protocols_short"] = (
        (f"Honours robots.txt{', ' if short else ''}{', '.join(short)} in {c['mode']} mode"
         if "robots.txt" in names else f"Honours {', '.join(short) or 'no protocol'}")
        + (f"; when a document of {', '.join(closed_names)} cannot be read, the page is "
           "refused" if closed_names else "") + ".")
    out["lawful_short"] = (
        ("Never logs in and never works around a paywall or a CAPTCHA: HTTP 401, 402, 403, "
         "407 and 451 answers and pages marked as not free are dropped. " if lawful else
         "Never sends credentials; the lawful-access check is switched off. ")
        + (f"Never contacts hosts on {len(blocking)} blocklists of infringing sites "
           f"({', '.join(b['name'] for b in blocking)})." if lists["enabled"] else
           "No infringing-site blocklist is applied."))
    return out


def grouped(crawlers: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Crawlers with equal values at each dotted *key*, merged: ``names`` (one
    string) and ``c`` (the first of them), so a document says a thing once."""
    groups: dict[str, dict[str, Any]] = {}
    for c in crawlers:
        values = []
        for key in keys:
            value: Any = c
            for part in key.split("."):
                value = value[part]
            values.append(value)
        sig = json.dumps(values, sort_keys=True)
        if sig in groups:
            groups[sig]["all"].append(c)
        else:
            groups[sig] = {"c": c, "all": [c]}
    out = []
    for g in groups.values():
        names = [c["name"] for c in g["all"]]
        g["names"] = names[0] if len(names) == 1 else \
            ", ".join(names[:-1]) + " and " + names[-1]
        out.append(g)
    return out


def robots_example(c: dict[str, Any]) -> str:
    """A robots.txt that blocks this crawler (and, where honoured, a reservation
    line); empty when the crawler does not read robots.txt."""
    names = {p["name"]: p for p in c["protocols"]}
    if "robots.txt" not in names:
        return ""
    lines = [f"# Keep {c['name']} out of the whole site", f"User-agent: {c['tokens'][0]}",
             "Disallow: /"]
    if c["purpose"] != SEARCH and c["purpose"] in names.get("content-usage", {}).get(
            "purposes", []) and any(r["stage"] == "location"
                                    for r in names["content-usage"]["reads"]):
        lines += ["", f"# Or let every crawler in but reserve {c['purpose']} "
                  "(IETF AI preferences)", "User-agent: *", f"Content-Usage: {c['purpose']}=n",
                  "Allow: /"]
    return "\n".join(lines)


# -- the ledgers: template sections 2.3 and 3.1 ------------------------------------------


def ledger_answers(cfg: ProviderConfig, facts: dict[str, Any],
                   ledgers: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """What the crawls recorded in *ledgers* (``(name, db)`` pairs) say for the
    training-content template: per crawler its period and counts, the most
    relevant domains, the protocols every crawl honoured."""
    dbs = [db for _name, db in ledgers]
    s = summary(dbs, sme=cfg.organisation.sme)
    known = {t.lower(): c["name"] for c in facts["crawlers"] for t in c["tokens"]}
    per: dict[str, dict[str, Any]] = {}
    for db in dbs:
        counts = {r["crawl_id"]: r for r in db.query(
            "SELECT crawl_id, SUM(allowed = 1 AND stage = 'fetched') AS fetched, "
            "SUM(allowed = 0 AND stage IN ('refused', 'dropped')) AS refused "
            "FROM decisions GROUP BY crawl_id")}
        for crawl in db.query("SELECT id, tokens, started_at, finished_at, mode, purpose "
                              "FROM crawls ORDER BY id"):
            tokens = json.loads(crawl["tokens"] or "[]")
            first = str(tokens[0]) if tokens else "(no token)"
            name = known.get(first.lower(), first)
            row = per.setdefault(name, {"name": name, "configured": name in {
                c["name"] for c in facts["crawlers"]}, "crawls": 0, "from": None, "to": None,
                "fetched": 0, "refused": 0, "purposes": set()})
            row["crawls"] += 1
            start, end = crawl["started_at"], crawl["finished_at"] or crawl["started_at"]
            if start and (row["from"] is None or start < row["from"]):
                row["from"] = start
            if end and (row["to"] is None or end > row["to"]):
                row["to"] = end
            c = counts.get(crawl["id"])
            if c:
                row["fetched"] += c["fetched"] or 0
                row["refused"] += c["refused"] or 0
            if crawl["purpose"]:
                row["purposes"].add(crawl["purpose"])
    crawlers = []
    for row in sorted(per.values(), key=lambda r: (not r["configured"], r["name"].lower())):
        row["purposes"] = sorted(row["purposes"])
        crawlers.append(row)
    a, b = s["section_2_3"], s["section_3_1"]
    return {"crawlers": crawlers, "unused": [c["name"] for c in facts["crawlers"]
                                             if c["name"] not in per],
            "top_domains": a["top_domains"], "top_domains_rule": a["top_domains_rule"],
            "domains_crawled": a["domains_crawled"], "behaviour": a["crawler_behaviour"],
            "honoured": b["opt_out_protocols_honoured"],
            "lawful": b["lawful_access_measures"], "switched_off": b["protocols_switched_off"],
            "refused_by_protocol": b["pages_refused_by_protocol"],
            "dropped_by_protocol": b["pages_dropped_by_protocol"]}


def domains_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["domain", "bytes", "pages"])
    for r in rows:
        writer.writerow([r["domain"], "" if r["bytes"] is None else r["bytes"], r["pages"]])
    return out.getvalue()


# -- versions ------------------------------------------------------------------------------


def issue(cfg: ProviderConfig, facts: dict[str, Any], history_file: str | None = None,
          when: str | None = None, *, write: bool = True) -> tuple[dict[str, Any], list[str]]:
    """The policy history with *facts* as its latest version: unchanged when the
    last version has the same state, else a new version naming each change.
    Returns the history and warnings (one line each)."""
    path = history_file or history_path(cfg)
    history = st.read_json(path, "policy history") or {"versions": [], "facts": None}
    versions = history.get("versions")
    if not isinstance(versions, list):
        raise ConfigError(f"{path}: the policy history has no versions list")
    warnings: list[str] = []
    last = history.get("facts")
    if last == facts and versions:
        return history, warnings
    day = st.issue_time(cfg, when).date().isoformat()
    if versions:
        previous = versions[-1]
        if day < previous["date"]:
            raise ConfigError(f"{cfg.path}: policy.effective_date: the policy changed, but "
                              f"{day} is before version {previous['version']}'s date "
                              f"{previous['date']}: set the date the change takes effect")
        if day == previous["date"]:
            warnings.append(f"the policy changed but is dated {day} like version "
                            f"{previous['version']}: set policy.effective_date (or --date) "
                            "to the day the change takes effect")
        changes = differences(last or {}, facts)
    else:
        changes = ["First version."]
    versions.append({"version": len(versions) + 1, "date": day, "changes": changes})
    history = {"versions": versions, "facts": facts}
    if write:
        st.write_json(path, history)
    return history, warnings


def render_policy(cfg: ProviderConfig, fmt: str = "md", *, public: bool = False,
                  ledgers: Sequence[tuple[str, Any]] = (), templates: str | None = None,
                  history_file: str | None = None, when: str | None = None,
                  domains_file: str | None = None) -> tuple[str, list[str], str | None]:
    """The policy (or, *public*, its summary) as text, the warnings, and the
    domain list CSV text (when *ledgers* are given)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (md or html)")
    facts = st.facts(cfg)
    history, warnings = issue(cfg, facts, history_file, when, write=False)
    versions = history["versions"]
    current = versions[-1]
    answers = ledger_answers(cfg, facts, ledgers) if ledgers else None
    csv_text = domains_csv(answers["top_domains"]) if answers else None
    crawlers = [{**c, "says": statements(c), "robots_example": robots_example(c)}
                for c in facts["crawlers"]]
    marker = {"kind": "policy-summary" if public else "policy", "version": current["version"],
              "date": current["date"], "facts": facts}
    context = {
        "f": facts, "crawlers": crawlers, "version": current["version"],
        "date": current["date"], "history": list(reversed(versions)), "answers": answers,
        "domains_file": domains_file, "public": public,
        "mode_text": describe.MODE_TEXT,
        "state": Markup(st.embed_script(marker) if fmt == "html" else st.embed_comment(marker)),
        "training": [c for c in crawlers if c["purpose"] != SEARCH],
        "reservations_honoured": any(p["name"] == "rightsholder-reservation"
                                     for c in crawlers for p in c["protocols"]),
        "search": [c for c in crawlers if c["purpose"] == SEARCH],
    }
    context["grouped"] = lambda *keys: grouped(crawlers, *keys)
    text = render_template("summary" if public else "policy", fmt, context, templates)
    path = history_file or history_path(cfg)
    try:
        st.write_json(path, history)  # only once the document rendered
    except OSError as exc:
        raise ConfigError(f"cannot write the policy history {path}: {exc.strerror}") from None
    return text, warnings, csv_text


__all__ = ["FORMATS", "environment", "issue", "ledger_answers", "render_policy",
           "render_template", "robots_example", "statements"]
