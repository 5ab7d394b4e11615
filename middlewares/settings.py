"""Every ``TDMGUARD_*`` setting with its default, in one place.

The add-on sets these at ``"addon"`` priority, so a project's own values win.
Each is documented in the README's settings table (tests/test_docs.py checks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from tdmguard.middlewares.robots import is_product_token
from tdmguard.middlewares.vocab import MODES, PURPOSES, STRICT, TRAIN_AI

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

DATA = Path(__file__).parent / "data"


def require_enabled(settings: BaseSettings, *switches: str) -> None:
    """:class:`NotConfigured` unless every ``TDMGUARD_*_ENABLED``-style switch
    in *switches* is on (each defaults to on): a component's first line."""
    off = [name for name in switches if not settings.getbool(name, True)]
    if off:
        raise NotConfigured(f"{' and '.join(off)} off")

DEFAULTS: dict[str, Any] = {
    "TDMGUARD_USER_AGENT": None,
    "TDMGUARD_USER_AGENT_INFO": None,
    "TDMGUARD_MODE": STRICT,
    "TDMGUARD_PURPOSE": TRAIN_AI,
    "TDMGUARD_DB": None,
    "TDMGUARD_DB_BATCH_SIZE": 5000,
    "TDMGUARD_DB_FLUSH_INTERVAL": 1.0,
    "TDMGUARD_GC_FREEZE": True,
    "TDMGUARD_ROBOTSTXT_ENABLED": True,
    "TDMGUARD_ROBOTSTXT_CACHE_TTL": 86400,
    "TDMGUARD_ROBOTSTXT_RETRY_AFTER": 300,
    "TDMGUARD_ROBOTSTXT_MAX_BYTES": 500 * 1024,
    "TDMGUARD_ROBOTSTXT_MAX_REDIRECTS": 5,
    "TDMGUARD_ROBOTSTXT_TOO_MANY_REDIRECTS": "unreachable",
    "TDMGUARD_ROBOTSTXT_CRAWL_DELAY": True,
    "TDMGUARD_AI_CRAWLERS": None,
    # every other machine-readable reservation (issue 4)
    "TDMGUARD_LOCATION_ENABLED": True,
    "TDMGUARD_LOCATION_CACHE_TTL": 86400,
    "TDMGUARD_LOCATION_RETRY_AFTER": 300,
    "TDMGUARD_TDMREP_ENABLED": True,
    "TDMGUARD_TDMREP_MATCHING": "first",
    "TDMGUARD_AITXT_ENABLED": True,
    "TDMGUARD_RSL_ENABLED": True,
    "TDMGUARD_RSL_LICENSES": [],
    "TDMGUARD_RESPONSE_SIGNALS_ENABLED": True,
    "TDMGUARD_ASSETS_ENABLED": True,
    # lawful access (issue 5)
    "TDMGUARD_BLOCKLIST_ENABLED": True,
    "TDMGUARD_BLOCKLISTS": [],
    "TDMGUARD_BLOCKLIST_SHIPPED": True,
    "TDMGUARD_BLOCKLIST_ADVISORY": "block",
    "TDMGUARD_LAWFUL_ACCESS_ENABLED": True,
    "TDMGUARD_LOGIN_WALL_PATTERNS": None,
    "TDMGUARD_POLITENESS_ENABLED": True,
    "TDMGUARD_POLITENESS_CONCURRENCY": 2,
    "TDMGUARD_POLITENESS_DELAY": 0.25,
    "TDMGUARD_POLITENESS_BACKOFF": 2.0,
    "TDMGUARD_POLITENESS_MAX_WAIT": 600.0,
}


class ConfigError(ValueError):
    """A tdmguard setting is unusable; the message says which and how to fix it."""


def tdmguard_version() -> str:
    try:
        return metadata.version("tdmguard")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        return "0+unknown"


def parse_tokens(value: Any) -> tuple[str, ...]:
    """``TDMGUARD_USER_AGENT``: one token, a comma-separated string, or a list."""
    if value is None or value == "" or value == []:
        raise ConfigError(
            "TDMGUARD_USER_AGENT is not set: give your crawler's RFC 9309 product "
            "token, e.g. TDMGUARD_USER_AGENT = 'ExampleBot'"
        )
    items = value.split(",") if isinstance(value, str) else list(value)
    tokens = tuple(str(t).strip() for t in items if str(t).strip())
    for token in tokens:
        if not is_product_token(token):
            raise ConfigError(
                f"TDMGUARD_USER_AGENT {token!r} is not an RFC 9309 product token: "
                "use only letters, '_' and '-' (no digits, spaces or '/')"
            )
    if not tokens:
        raise ConfigError("TDMGUARD_USER_AGENT holds no product token")
    return tokens


def build_user_agent(tokens: tuple[str, ...], info: str | None) -> str:
    comment = f" (+{info})" if info else ""
    return f"{tokens[0]}/{tdmguard_version()}{comment}"


def load_ai_crawlers(path: str | None = None) -> tuple[frozenset[str], dict[str, Any]]:
    """The AI-training crawler names strict mode reads as "no AI training".

    Returns the lower-cased names and the file's ``source`` block.
    """
    file = Path(path) if path else DATA / "ai_training_crawlers.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        names = frozenset(str(n).lower() for n in data["training_crawlers"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"TDMGUARD_AI_CRAWLERS: cannot read {file}: {exc}; expected a JSON object "
            'with a "training_crawlers" list'
        ) from None
    return names, data.get("source", {})


@dataclass(frozen=True, slots=True)
class Config:
    """The settings every check shares, read once per crawl."""

    tokens: tuple[str, ...]
    mode: str
    purpose: str

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Config:
        tokens = parse_tokens(settings.get("TDMGUARD_USER_AGENT"))
        mode = str(settings.get("TDMGUARD_MODE", STRICT)).lower()
        if mode not in MODES:
            raise ConfigError(f"TDMGUARD_MODE {mode!r}: use one of {', '.join(MODES)}")
        purpose = str(settings.get("TDMGUARD_PURPOSE", TRAIN_AI)).lower()
        if purpose not in PURPOSES:
            raise ConfigError(
                f"TDMGUARD_PURPOSE {purpose!r}: use one of {', '.join(PURPOSES)}"
            )
        return cls(tokens, mode, purpose)


def effective_settings(settings: BaseSettings) -> dict[str, Any]:
    """The TDMGUARD_* values in force (for the ledger's crawls row)."""
    out = {}
    getters = {bool: settings.getbool, int: settings.getint, float: settings.getfloat,
               list: settings.getlist}
    for name in sorted(set(DEFAULTS) | {k for k in settings if k.startswith("TDMGUARD_")}):
        # Typed as the default is, so "-s X=False" is recorded as false.
        getter = getters.get(type(DEFAULTS.get(name)))
        try:
            value = getter(name) if getter else settings.get(name)
        except (TypeError, ValueError):
            value = settings.get(name)
        try:
            json.dumps(value)
        except TypeError:
            value = repr(value)
        out[name] = value
    return out
