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
from scrapy.settings import SETTINGS_PRIORITIES

from tdmguard.middlewares import schema
from tdmguard.middlewares.readers.robots import is_product_token
from tdmguard.middlewares.vocab import STRICT, TRAIN_AI

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

DATA = Path(__file__).parent / "data"


def require_enabled(settings: BaseSettings, *switches: str) -> None:
    """:class:`NotConfigured` unless every ``TDMGUARD_*_ENABLED``-style switch
    in *switches* is on (each defaults to on): a component's first line."""
    off = [name for name in switches if not settings.getbool(name, True)]
    if off:
        raise NotConfigured(f"{' and '.join(off)} off")

#: The defaults the add-on sets at ``"addon"`` priority: declared, with each
#: setting's type and accepted values, once in :mod:`tdmguard.middlewares.schema`.
DEFAULTS: dict[str, Any] = schema.DEFAULTS



#: A tdmguard setting is unusable; the message says which and how to fix it.
ConfigError = schema.SettingError


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
        # Typed by the one settings schema (its one-line errors name the value).
        mode = schema.parse_value("TDMGUARD_MODE", settings.get("TDMGUARD_MODE", STRICT))
        purpose = schema.parse_value("TDMGUARD_PURPOSE",
                                     settings.get("TDMGUARD_PURPOSE", TRAIN_AI))
        return cls(tokens, mode, purpose)


def user_values(settings: BaseSettings) -> dict[str, Any]:
    """The ``TDMGUARD_*`` values set above the add-on's defaults (project,
    spider, command line), as written."""
    return {name: settings.get(name) for name in settings
            if name.startswith(schema.PREFIX)
            and (settings.getpriority(name) or 0) > SETTINGS_PRIORITIES["addon"]}


def validate(settings: BaseSettings) -> dict[str, Any]:
    """Every ``TDMGUARD_*`` setting typed, or a one-line :class:`ConfigError`
    naming the setting, the value and what is accepted (an unknown name gets
    the closest known one)."""
    return schema.parse_all(user_values(settings), names=list(settings))


def effective_settings(settings: BaseSettings) -> dict[str, Any]:
    """The typed TDMGUARD_* values in force (for the ledger's crawls row)."""
    typed = validate(settings)
    return {name: typed[name] for name in sorted(typed)}
