"""The semantic state behind the policy and the disclosure, derived and carried.

:func:`facts` turns a :class:`~tdmguard.policy.config.ProviderConfig` into one
JSON-able dict: for each crawler identity, the protocols honoured (from the
protocol registry over that identity's effective ``TDMGUARD_*`` settings), the
mode, what fails closed, what is switched off, the blocklists with their
editions; plus the organisation, roles, complaints handling and review dates
from the file. The policy, the disclosure and ``policy check`` all read it;
nothing in them re-derives what the crawler does.

:func:`embed_script`, :func:`embed_comment` and :func:`extract` carry a state
inside a rendered document, so a published document can be checked against
the configuration without a text diff; :mod:`.differences` names what changed
between two states.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tdmguard.blocklists import BlocklistError, load_blocklists
from tdmguard.middlewares import describe, registry
from tdmguard.middlewares.registry import LOCATION, REQUEST, RESPONSE
from tdmguard.policy.config import ConfigError, Crawler, ProviderConfig, effective

#: Bumped when the shape of :func:`facts` changes.
STATE_VERSION = 1

#: robots.txt lines a protocol reads there, as the Signature Agent Card's
#: ``rfc9309-compliance`` names them.
ROBOTS_DIRECTIVES = {"content-usage": "Content-Usage", "content-signal": "Content-Signal",
                     "disallow-ai-training": "DisallowAITraining", "rsl": "License"}

STAGE_TEXT = {REQUEST: "before any request (from the URL alone)",
              LOCATION: "per site, before any page of it is requested",
              RESPONSE: "on each downloaded page, before any use"}

_BLOCKLISTS: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


def _blocklists(paths: list[str], shipped: bool, where: str) -> list[dict[str, Any]]:
    key: list[Any] = [shipped]
    for path in paths:
        try:
            st = os.stat(path)
            key.append((path, st.st_mtime_ns, st.st_size))
        except OSError:
            key.append((path, None, None))
    found = _BLOCKLISTS.get(tuple(key))
    if found is None:
        try:
            lists = load_blocklists(paths, include_shipped=shipped)
        except BlocklistError as exc:
            raise ConfigError(f"{where}: TDMGUARD_BLOCKLISTS: {exc}") from None
        found = [{k: row[k] for k in ("name", "title", "kind", "issuer", "edition", "entries",
                                      "sha256")} for row in lists.describe()]
        _BLOCKLISTS[tuple(key)] = found
    return found


def _protocol(p: registry.Protocol, settings: dict[str, Any], mode: str) -> dict[str, Any]:
    reads = registry.active_reads(p, settings)
    closed = p.fails_closed if p.fails_closed and mode in p.fails_closed_in else ""
    out = {
        "name": p.name, "title": p.title, "kind": p.kind, "switch": p.switch,
        "reads": [{"stage": r.stage, "what": r.what,
                   "decides": "before the page is requested" if r.stage in (REQUEST, LOCATION)
                   and mode in r.decides_in else "after download, before any use"}
                  for r in reads],
        "fails_closed": closed,
        "purposes": list(p.purposes),
    }
    extra = describe.extra_noai_directives(settings) if p.name == "noai" else []
    if extra:  # only when set, so the state of every other configuration is unchanged
        out["extra_directives"] = extra
    return out


def signing_keys(cfg: ProviderConfig, settings: dict[str, Any]) -> list[dict[str, str]]:
    """The public JWK of the identity's signing key (``TDMGUARD_SIGNING_KEY``), if any."""
    path = settings.get("TDMGUARD_SIGNING_KEY")
    if not path:
        return []
    from tdmguard.policy.keys import SigningKeyError, load_signing_key, public_jwk

    try:
        return [public_jwk(load_signing_key(path))]
    except SigningKeyError as exc:
        raise ConfigError(f"{cfg.path}: TDMGUARD_SIGNING_KEY: {exc}") from None


def crawler_facts(cfg: ProviderConfig, crawler: Crawler) -> dict[str, Any]:
    """What one identity does, from its effective settings and the registry."""
    settings = effective(cfg, crawler.name)
    mode = settings["TDMGUARD_MODE"]
    honoured = [p for p in registry.PROTOCOLS if registry.active_reads(p, settings)]
    off = []
    for p in registry.PROTOCOLS:
        reads = registry.active_reads(p, settings)
        if len(reads) < len(p.reads):
            switches = list(dict.fromkeys(
                s for s in (p.switch, *(x for r in p.reads for x in r.parents))
                if not registry.switch_on(settings, s)))
            off.append({"name": p.name, "title": p.title, "switches": switches,
                        "not_read": [r.what for r in p.reads if r not in reads]})
    blocklists_on = registry.switch_on(settings, "TDMGUARD_BLOCKLIST_ENABLED")
    lists = _blocklists(list(settings["TDMGUARD_BLOCKLISTS"] or []),
                        bool(settings["TDMGUARD_BLOCKLIST_SHIPPED"]),
                        cfg.path) if blocklists_on else []
    robots_on = any(p.name == "robots.txt" for p in honoured)
    compliance = ["User-Agent", "Allow", "Disallow"] if robots_on else []
    if robots_on and settings["TDMGUARD_ROBOTSTXT_CRAWL_DELAY"] and \
            settings["TDMGUARD_POLITENESS_ENABLED"]:
        compliance.append("Crawl-delay")
    for p in honoured:
        if p.from_robots is not None and any(
                r.stage == LOCATION for r in registry.active_reads(p, settings)):
            compliance.append(ROBOTS_DIRECTIVES.get(p.name, p.name))
    documents = ["/robots.txt"] if robots_on else []
    for p in honoured:
        if p.documents is not None and any(
                r.stage == LOCATION for r in registry.active_reads(p, settings)):
            documents += [url for _kind, url in p.documents("", {})]
    return {
        "name": crawler.name, "tokens": list(crawler.tokens), "user_agent": crawler.user_agent,
        "info_url": crawler.info_url, "ip_ranges": list(crawler.ip_ranges),
        "purpose": crawler.purpose, "data_use": crawler.data_use, "content": crawler.content,
        "renders_pages": crawler.renders_pages,
        "mode": mode, "mode_text": describe.MODE_TEXT.get(mode, mode),
        "protocols": [_protocol(p, settings, mode) for p in honoured],
        "switched_off": off,
        "blocklists": {"enabled": blocklists_on,
                       "advisory": settings["TDMGUARD_BLOCKLIST_ADVISORY"],
                       "lists": lists},
        "robots": {"cache_ttl": settings["TDMGUARD_ROBOTSTXT_CACHE_TTL"],
                   "max_bytes": settings["TDMGUARD_ROBOTSTXT_MAX_BYTES"],
                   "crawl_delay": bool(settings["TDMGUARD_ROBOTSTXT_CRAWL_DELAY"])},
        "politeness": {"enabled": bool(settings["TDMGUARD_POLITENESS_ENABLED"]),
                       "concurrency": settings["TDMGUARD_POLITENESS_CONCURRENCY"],
                       "delay": settings["TDMGUARD_POLITENESS_DELAY"],
                       "max_wait": settings["TDMGUARD_POLITENESS_MAX_WAIT"]},
        "signing": {"enabled": bool(settings["TDMGUARD_SIGNING_KEY"]),
                    "signature_agent": settings["TDMGUARD_SIGNATURE_AGENT"],
                    "key_ids": [jwk["kid"] for jwk in signing_keys(cfg, settings)]},
        "rfc9309_compliance": compliance,
        "known_urls": documents,
    }


def facts(cfg: ProviderConfig) -> dict[str, Any]:
    """The whole semantic state of *cfg* (JSON-able, deterministic)."""
    c = cfg.complaints
    o = cfg.organisation
    return {
        "state_version": STATE_VERSION,
        "organisation": {"name": o.name, "website": o.website, "address": o.address,
                         "models": list(o.models), "signatory": o.signatory, "sme": o.sme},
        "roles": {"policy": cfg.roles.policy, "implementation": cfg.roles.implementation,
                  "complaints": cfg.roles.complaints},
        "review": {"effective_date": cfg.policy.effective_date.isoformat(),
                   "last_review": cfg.policy.last_review.isoformat(),
                   "next_review": cfg.policy.next_review.isoformat(),
                   "summary_url": cfg.policy.summary_url},
        "crawlers": [crawler_facts(cfg, crawler) for crawler in cfg.crawlers],
        "outputs": {"safeguards": list(cfg.outputs.safeguards),
                    "acceptable_use": cfg.outputs.acceptable_use,
                    "acceptable_use_url": cfg.outputs.acceptable_use_url,
                    "open_source": cfg.outputs.open_source},
        "complaints": {"contact_email": c.contact_email, "contact_url": c.contact_url,
                       "acknowledge_days": c.acknowledge_days, "decide_days": c.decide_days},
        "disclosure": {"base_url": cfg.base_url},
    }


#: The parts of :func:`facts` the public disclosure shows (a change elsewhere,
#: such as a role, adds no feed entry).
DISCLOSURE_CRAWLER_KEYS = ("name", "tokens", "user_agent", "info_url", "ip_ranges", "purpose",
                           "data_use", "content", "renders_pages", "mode", "mode_text",
                           "protocols", "known_urls",
                           "switched_off", "blocklists", "robots", "politeness", "signing",
                           "rfc9309_compliance")


def disclosure_facts(full: dict[str, Any]) -> dict[str, Any]:
    return {
        "state_version": full["state_version"],
        "organisation": {"name": full["organisation"]["name"],
                         "website": full["organisation"]["website"]},
        "crawlers": [{k: c[k] for k in DISCLOSURE_CRAWLER_KEYS} for c in full["crawlers"]],
        "complaints": full["complaints"],
        "disclosure": full["disclosure"],
    }


# -- carrying a state inside a document ---------------------------------------------------

_MARK = "tdmguard-state"
_COMMENT = re.compile(r"<!-- " + _MARK + r" (\{.*?\}) -->", re.S)
_SCRIPT = re.compile(r'<script type="application/json" id="' + _MARK + r'">(\{.*?\})</script>',
                     re.S)


def state_json(state: dict[str, Any]) -> str:
    """*state* as one line of JSON safe inside HTML (no ``<``, ``>`` or ``&``)."""
    text = json.dumps(state, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def embed_comment(state: dict[str, Any]) -> str:
    return f"<!-- {_MARK} {state_json(state)} -->"


def embed_script(state: dict[str, Any]) -> str:
    return f'<script type="application/json" id="{_MARK}">{state_json(state)}</script>'


def extract(text: str) -> dict[str, Any] | None:
    """The state embedded in a rendered document (Markdown or HTML), or None."""
    found = _SCRIPT.search(text) or _COMMENT.search(text)
    if not found:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# -- dates and history ------------------------------------------------------------------


def issue_time(cfg: ProviderConfig, given: str | None = None) -> datetime:
    """When a new version or feed entry is dated: ``--date``, else
    ``SOURCE_DATE_EPOCH``, else the configuration's ``policy.effective_date``
    (never the wall clock, so the same inputs give the same documents)."""
    if given:
        try:
            when = datetime.fromisoformat(given)
        except ValueError:
            raise ConfigError(f"--date {given!r}: give a date like 2026-12-01 or an ISO "
                              "date-time") from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError):
            raise ConfigError(f"SOURCE_DATE_EPOCH={epoch!r} is not a whole number of "
                              "seconds") from None
    d: date = cfg.policy.effective_date
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def read_json(path: str | Path, what: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the {what} is not a JSON object")
    return data


def write_json(path: str | Path, data: Any) -> None:
    """Write *data* atomically (a temporary file renamed over *path*)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)
