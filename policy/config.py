"""``tdmguard.toml``: who the provider is, its crawler identities, and its settings.

Read with the standard library's :mod:`tomllib` from the working directory or
``--config PATH``. The file holds what only the provider can say: the
organisation, the roles responsible for the copyright policy and for its
implementation, the crawler identities (product tokens, full User-Agent,
information URL, IP ranges, purpose; a training crawler and a search crawler
are separate identities, Code of Practice Measure 1.3(5)), the output-side
measures (Measure 1.4), the point of contact and complaints channel
(Measure 1.5, the ``[complaints]`` table of
:mod:`tdmguard.policy.complaints.config`), the review dates, and a
``[settings]`` table of ``TDMGUARD_*`` overrides checked by
:mod:`tdmguard.middlewares.schema`. Which protocols are honoured, in which
mode, what fails closed and which blocklists (with their editions) are in
force are never written here: :mod:`tdmguard.policy.state` reads them from
the effective settings and the protocol registry, so the documents and the
crawl cannot disagree.

Every problem is one :class:`ConfigError` line naming the file and the field,
e.g. ``tdmguard.toml: crawlers[1].ip_ranges[0]: '10.0.0.300/24' is not an IP
network``; the CLI exits 2 on it.

Why it is long: the file is written by hand, so every field of every table is
type-checked with its own one-line error naming the file and the dotted field
(with a did-you-mean for unknown keys), and the cross-field rules (tokens
unique per identity and carried by the User-Agent, review dates in order, each
identity's combined settings valid) sit beside the fields they join.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from tdmguard.middlewares import schema
from tdmguard.middlewares.readers.robots import is_product_token
from tdmguard.middlewares.vocab import PURPOSES

DEFAULT_PATH = "tdmguard.toml"

#: Settings a crawler identity sets: never written in ``[settings]``.
IDENTITY_SETTINGS = ("TDMGUARD_USER_AGENT", "TDMGUARD_PURPOSE", "TDMGUARD_USER_AGENT_INFO")
#: Settings holding file paths: relative ones are taken from the file's directory.
PATH_SETTINGS = ("TDMGUARD_DB", "TDMGUARD_BLOCKLISTS", "TDMGUARD_AI_CRAWLERS",
                 "TDMGUARD_RESERVATIONS", "TDMGUARD_WARC", "TDMGUARD_SIGNING_KEY")


#: Characters no document may carry (XML 1.0 refuses most of them): C0 but
#: tab, DEL, C1.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class ConfigError(ValueError):
    """``tdmguard.toml`` is unusable: one line naming the file and the field."""


@dataclass(frozen=True)
class Organisation:
    name: str
    website: str | None = None
    address: str | None = None
    #: The general-purpose AI models the policy covers.
    models: tuple[str, ...] = ()
    #: Signatory of the Code of Practice (summary template section 3.1).
    signatory: bool = True
    #: SME rule of the summary template (top 5 % or 1,000 domains).
    sme: bool = False


@dataclass(frozen=True)
class Roles:
    #: Draws up, approves, keeps up to date and oversees the policy (Measure 1.1).
    policy: str
    #: Runs the crawlers with this configuration (Measure 1.1).
    implementation: str
    #: Handles complaints (Measure 1.5); default: the policy role.
    complaints: str


@dataclass(frozen=True)
class Crawler:
    """One crawler identity."""

    tokens: tuple[str, ...]
    user_agent: str
    info_url: str
    ip_ranges: tuple[str, ...]
    purpose: str
    data_use: str
    content: str = ""
    renders_pages: bool = False
    #: ``TDMGUARD_*`` overrides for this identity only (typed).
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.tokens[0]


@dataclass(frozen=True)
class Outputs:
    """Measure 1.4: safeguards against infringing outputs, the use prohibition."""

    safeguards: tuple[str, ...]
    acceptable_use: str
    acceptable_use_url: str | None = None
    open_source: bool = False


@dataclass(frozen=True)
class PolicyInfo:
    effective_date: date
    last_review: date
    next_review: date
    #: Where the public summary is published (summary template section 3.1).
    summary_url: str | None = None
    #: The history of policy versions (change log), relative to the file.
    history: str = "policy-history.json"


@dataclass(frozen=True)
class ProviderConfig:
    path: str
    organisation: Organisation
    roles: Roles
    crawlers: tuple[Crawler, ...]
    outputs: Outputs
    complaints: Any  # tdmguard.policy.complaints.config.ComplaintsConfig
    policy: PolicyInfo
    base_url: str
    #: ``[settings]``: ``TDMGUARD_*`` overrides for every identity (typed).
    settings: dict[str, Any] = field(default_factory=dict)

    def crawler(self, identity: str | None = None) -> Crawler:
        """The identity whose product token is *identity* (any case); None: the first."""
        if identity is None:
            return self.crawlers[0]
        for c in self.crawlers:
            if identity.lower() in (t.lower() for t in c.tokens):
                return c
        names = ", ".join(c.name for c in self.crawlers)
        raise ConfigError(f"{self.path}: no crawler identity {identity!r} (declared: {names})")


# -- reading ---------------------------------------------------------------------------


class _Reader:
    """Typed access to one TOML table, each error naming its dotted field."""

    def __init__(self, path: str, table: Any, where: str, known: tuple[str, ...]):
        self.path, self.where = path, where
        if not isinstance(table, dict):
            raise self.error("", f"must be a table, not {_kind(table)}")
        self.table = table
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]}?)" if close else \
                    f" (known: {', '.join(known)})"
                raise self.error(key, f"unknown field{hint}")

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where and key else (self.where or key)

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.name(key)}: {message}")

    def text(self, key: str, default: str | None = None, *, required: bool = True,
             one_line: bool = True) -> str | None:
        if key not in self.table:
            if required and default is None:
                raise self.error(key, "missing (required)")
            return default
        value = self.table[key]
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {_kind(value)}")
        value = value.strip()
        if not value:
            raise self.error(key, "must not be empty")
        if one_line and any(c in value for c in "\r\n"):
            raise self.error(key, "must be one line")
        if _CONTROL.search(value.replace("\n", "")):
            raise self.error(key, "must not contain control characters")
        return value

    def url(self, key: str, *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        if value is not None:
            try:
                parts = urlsplit(value)
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:  # "Invalid IPv6 URL" (a stray bracket), a bad port
                raise self.error(key, f"{value!r} is not an http(s) URL") from None
            if parts.scheme not in ("http", "https") or not parts.netloc or any(
                    c.isspace() for c in value):
                raise self.error(key, f"{value!r} is not an http(s) URL")
        return value

    def boolean(self, key: str, default: bool | None = None) -> bool:
        if key not in self.table:
            if default is None:
                raise self.error(key, "missing (required): true or false")
            return default
        value = self.table[key]
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {value!r}")
        return value

    def day(self, key: str, default: date | None = None) -> date:
        if key not in self.table:
            if default is None:
                raise self.error(key, "missing (required): a date like 2026-12-01")
            return default
        value = self.table[key]
        if isinstance(value, datetime) or not isinstance(value, date):
            raise self.error(key, f"must be a date like 2026-12-01 (no quotes), not {value!r}")
        return value

    def texts(self, key: str, *, required: bool = True) -> list[str]:
        if key not in self.table:
            if required:
                raise self.error(key, "missing (required): a list of strings")
            return []
        value = self.table[key]
        if not isinstance(value, list):
            raise self.error(key, f"must be a list of strings, not {_kind(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{key}[{i}]", "must be a non-empty string")
            if any(c in item for c in "\r\n"):
                raise self.error(f"{key}[{i}]", "must be one line")
            if _CONTROL.search(item):
                raise self.error(f"{key}[{i}]", "must not contain control characters")
            out.append(item.strip())
        if required and not out:
            raise self.error(key, "must list at least one entry")
        return out


def _kind(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class _Known:
    top: tuple[str, ...] = ("organisation", "roles", "policy", "crawlers", "outputs",
                            "complaints", "disclosure", "settings")
    organisation: tuple[str, ...] = ("name", "website", "address", "models", "signatory", "sme")
    roles: tuple[str, ...] = ("policy", "implementation", "complaints")
    policy: tuple[str, ...] = ("effective_date", "last_review", "next_review", "summary_url",
                               "history")
    crawler: tuple[str, ...] = ("tokens", "user_agent", "info_url", "ip_ranges", "purpose",
                                "data_use", "content", "renders_pages", "settings")
    outputs: tuple[str, ...] = ("safeguards", "acceptable_use", "acceptable_use_url",
                                "open_source")
    disclosure: tuple[str, ...] = ("base_url",)


KNOWN = _Known()


def _others_tokens() -> dict[str, str]:
    """Lower-cased product tokens of other operators' AI crawlers (shipped list)."""
    ref = resources.files("tdmguard.middlewares") / "data" / "ai_training_crawlers.json"
    data = json.loads(ref.read_text(encoding="utf-8"))
    names = [*data.get("training_crawlers", []), *data.get("policy_tokens", [])]
    return {str(n).lower(): str(n) for n in names}


def _settings(path: str, base: str, table: Any, where: str) -> dict[str, Any]:
    """A ``settings`` table: ``TDMGUARD_*`` names only, each typed by the schema."""
    reader = _Reader(path, table, where, tuple(table) if isinstance(table, dict) else ())
    out: dict[str, Any] = {}
    for name, value in reader.table.items():
        if not name.startswith(schema.PREFIX):
            raise reader.error(name, "only TDMGUARD_* settings belong here")
        if name in IDENTITY_SETTINGS:
            raise reader.error(name, "comes from the crawler identity ([[crawlers]] tokens, "
                               "purpose, info_url): remove it here")
        try:
            typed = schema.parse_value(name, value)
        except schema.SettingError as exc:
            message = str(exc)
            if message.startswith(f"{name}="):
                message = message[len(name) + 1:]
            raise reader.error(name, message) from None
        if name in PATH_SETTINGS and typed is not None:
            typed = ([_resolve(base, p) for p in typed] if isinstance(typed, list)
                     else _resolve(base, typed))
        out[name] = typed
    return out


def _resolve(base: str, value: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


def _crawler(path: str, base: str, table: Any, index: int,
             others: dict[str, str]) -> Crawler:
    r = _Reader(path, table, f"crawlers[{index}]", KNOWN.crawler)
    tokens = r.texts("tokens")
    for i, token in enumerate(tokens):
        if not is_product_token(token):
            raise r.error(f"tokens[{i}]", f"{token!r} is not an RFC 9309 product token "
                          "(letters, '_' and '-' only: no digits, spaces or '/')")
        if token.lower() in others:
            raise r.error(f"tokens[{i}]", f"{token!r} is another operator's crawler token "
                          "(on tdmguard's AI-crawler list): choose your own")
    user_agent = r.text("user_agent") or ""
    if not any(t.lower() in user_agent.lower() for t in tokens):
        raise r.error("user_agent", f"{user_agent!r} does not carry the product token "
                      f"{tokens[0]!r}")
    info_url = r.url("info_url") or ""
    ranges = []
    for i, text in enumerate(r.texts("ip_ranges")):
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            why = "has host bits set" if "host bits" in str(exc) else "is not an IP network"
            raise r.error(f"ip_ranges[{i}]", f"{text!r} {why}") from None
        ranges.append(str(network))
    purpose = r.text("purpose") or ""
    if purpose not in PURPOSES:
        raise r.error("purpose", f"{purpose!r} is not one of {', '.join(PURPOSES)} (one "
                      "purpose per identity: a training and a search crawler are separate "
                      "identities, Measure 1.3(5))")
    settings = _settings(path, base, table.get("settings", {}), f"crawlers[{index}].settings")
    return Crawler(
        tokens=tuple(tokens), user_agent=user_agent, info_url=info_url,
        ip_ranges=tuple(ranges), purpose=purpose, data_use=r.text("data_use") or "",
        content=r.text("content", "", required=False) or "",
        renders_pages=r.boolean("renders_pages", False), settings=settings)


def _complaints(path: str, table: Any) -> Any:
    from tdmguard.policy.complaints.config import ComplaintsConfigError, parse_complaints_section

    try:
        parsed = parse_complaints_section(table, path=path)
    except ComplaintsConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(path) else f"{path}: {message}") \
            from None
    for name in ("contact_email", "contact_url"):  # published in HTML, JSON and Atom
        if _CONTROL.search(getattr(parsed, name) or ""):
            raise ConfigError(f"{path}: complaints.{name}: must not contain control "
                              "characters")
    return parsed


def parse(data: dict[str, Any], path: str = DEFAULT_PATH) -> ProviderConfig:
    """A parsed ``tdmguard.toml`` (*data*) checked field by field."""
    top = _Reader(path, data, "", KNOWN.top)
    for key in ("organisation", "roles", "policy", "crawlers", "outputs", "complaints",
                "disclosure"):
        if key not in data:
            raise top.error(key, "missing (required; `tdmguard policy init` writes a "
                            "commented starter file)")
    base = os.path.dirname(os.path.abspath(path))
    o = _Reader(path, data["organisation"], "organisation", KNOWN.organisation)
    organisation = Organisation(
        name=o.text("name") or "", website=o.url("website", required=False),
        address=o.text("address", required=False),
        models=tuple(o.texts("models", required=False)),
        signatory=o.boolean("signatory"), sme=o.boolean("sme", False))
    ro = _Reader(path, data["roles"], "roles", KNOWN.roles)
    policy_role = ro.text("policy") or ""
    roles = Roles(policy=policy_role, implementation=ro.text("implementation") or "",
                  complaints=ro.text("complaints", policy_role, required=False) or "")
    p = _Reader(path, data["policy"], "policy", KNOWN.policy)
    effective = p.day("effective_date")
    last = p.day("last_review", effective)
    following = p.day("next_review")
    if following <= last:
        raise p.error("next_review", f"{following} is not after policy.last_review ({last})")
    info = PolicyInfo(effective_date=effective, last_review=last, next_review=following,
                      summary_url=p.url("summary_url", required=False),
                      history=p.text("history", "policy-history.json", required=False)
                      or "policy-history.json")
    raw_crawlers = data["crawlers"]
    if not isinstance(raw_crawlers, list) or not raw_crawlers:
        raise top.error("crawlers", "must be at least one [[crawlers]] table")
    others = _others_tokens()
    crawlers: list[Crawler] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(raw_crawlers):
        crawler = _crawler(path, base, table, index, others)
        for i, token in enumerate(crawler.tokens):
            if token.lower() in seen:
                raise ConfigError(
                    f"{path}: crawlers[{index}].tokens[{i}]: {token!r} is already a token of "
                    f"crawlers[{seen[token.lower()]}] (each identity has its own tokens, so a "
                    "site can block one without the other, Measure 1.3(5))")
            seen[token.lower()] = index
        crawlers.append(crawler)
    out = _Reader(path, data["outputs"], "outputs", KNOWN.outputs)
    outputs = Outputs(safeguards=tuple(out.texts("safeguards")),
                      acceptable_use=out.text("acceptable_use", one_line=False) or "",
                      acceptable_use_url=out.url("acceptable_use_url", required=False),
                      open_source=out.boolean("open_source", False))
    d = _Reader(path, data["disclosure"], "disclosure", KNOWN.disclosure)
    base_url = d.url("base_url") or ""
    if not base_url.endswith("/"):
        base_url += "/"
    settings = _settings(path, base, data.get("settings", {}), "settings")
    cfg = ProviderConfig(path=path, organisation=organisation, roles=roles,
                         crawlers=tuple(crawlers), outputs=outputs,
                         complaints=_complaints(path, data["complaints"]), policy=info,
                         base_url=base_url, settings=settings)
    for index, c in enumerate(cfg.crawlers):
        try:  # the combination must hold too
            schema.parse_all(crawl_settings(cfg, c.name, _tokens_only=True))
        except schema.SettingError as exc:
            raise ConfigError(f"{path}: crawlers[{index}].settings: {exc}") from None
    return cfg


def load(path: str | None = None) -> ProviderConfig:
    """Read and check ``tdmguard.toml`` (*path*, default ``./tdmguard.toml``)."""
    path = path or DEFAULT_PATH
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (write a starter file with "
                          "`tdmguard policy init`, or give --config PATH)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a tdmguard.toml file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, path)


def crawl_settings(cfg: ProviderConfig, identity: str | None = None,
                   _tokens_only: bool = False) -> dict[str, Any]:
    """The Scrapy settings a crawl as *identity* (a product token; None: the first
    crawler) runs with: ``[settings]``, then the identity's own ``settings``, then
    its product tokens, purpose, information URL and full ``USER_AGENT``. The
    complaints' rightsholder-reservations file joins ``TDMGUARD_RESERVATIONS``
    once it exists, so an upheld complaint binds every later crawl."""
    crawler = cfg.crawler(identity)
    out: dict[str, Any] = {**cfg.settings, **crawler.settings}
    out["TDMGUARD_USER_AGENT"] = list(crawler.tokens)
    out["TDMGUARD_PURPOSE"] = crawler.purpose
    out["TDMGUARD_USER_AGENT_INFO"] = crawler.info_url
    if _tokens_only:
        return out
    reservations = getattr(cfg.complaints, "reservations", None)
    if reservations and os.path.isfile(reservations):
        files = list(out.get("TDMGUARD_RESERVATIONS") or [])
        if reservations not in files:
            out["TDMGUARD_RESERVATIONS"] = [*files, reservations]
    out["USER_AGENT"] = crawler.user_agent
    return out


def effective(cfg: ProviderConfig, identity: str | None = None) -> dict[str, Any]:
    """Every ``TDMGUARD_*`` setting in force for *identity*, typed (defaults filled in)."""
    values = {k: v for k, v in crawl_settings(cfg, identity).items()
              if k.startswith(schema.PREFIX)}
    try:
        return schema.parse_all(values)
    except schema.SettingError as exc:  # pragma: no cover - checked in parse()
        raise ConfigError(f"{cfg.path}: settings: {exc}") from None


def history_path(cfg: ProviderConfig) -> str:
    return _resolve(os.path.dirname(os.path.abspath(cfg.path)), cfg.policy.history)


__all__ = ["DEFAULT_PATH", "ConfigError", "Crawler", "Organisation", "Outputs", "PolicyInfo",
           "ProviderConfig", "Roles", "crawl_settings", "effective", "history_path", "load",
           "parse"]
