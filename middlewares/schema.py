"""Every ``TDMGUARD_*`` setting, typed and checked in one place (pure: no Scrapy).

Each setting is declared once with its default, what it accepts and a parser
that turns what a user may write (a Python value in ``settings.py``, or the
string given with ``-s NAME=VALUE`` or an environment variable) into the typed
value the crawl uses and the ledger's ``crawls`` row records. A value that
does not parse is a :class:`SettingError` whose one line names the setting,
the value and what is accepted; an unknown ``TDMGUARD_*`` name is an error
too, with the closest known name, so a misspelled switch can never leave a
check off while the operator believes it is on.

>>> parse_all({"TDMGUARD_USER_AGENT": "ExampleBot", "TDMGUARD_ROBOTSTXT_CACHE_TTL": "3600"})[
...     "TDMGUARD_ROBOTSTXT_CACHE_TTL"]
3600.0
>>> misspelled = "TDMGUARD_ROBOTSTXT_CACHE_TTL"[:-1]
>>> try:
...     parse_all({misspelled: "3600"})
... except SettingError as err:
...     print(err)
unknown setting TDMGUARD_ROBOTSTXT_CACHE_TT: did you mean TDMGUARD_ROBOTSTXT_CACHE_TTL?
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tdmguard.middlewares.vocab import MODES, PURPOSES, STRICT, TRAIN_AI

PREFIX = "TDMGUARD_"


class SettingError(ValueError):
    """A ``TDMGUARD_*`` setting is unusable; the message is one actionable line."""


class _Reject(ValueError):
    """Raised by a parser; :func:`parse_value` turns it into a SettingError."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``TDMGUARD_*`` setting.

    :param name: the setting's name.
    :param default: its default (what the add-on sets at ``"addon"`` priority).
    :param accepts: what it accepts, as the error message says it.
    :param parse: turns a user's value into the typed value (raises ``ValueError``).
    """

    name: str
    default: Any
    accepts: str
    parse: Callable[[Any], Any]


# -- parsers ----------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Reject


def _number(kind: type, minimum: float | None = None) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            raise _Reject
        try:
            number = kind(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise _Reject from None
        if kind is float and number != number:  # NaN
            raise _Reject
        if minimum is not None and number < minimum:
            raise _Reject
        return number
    return parse


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower() if isinstance(value, str) else None
        if text not in choices:
            raise _Reject
        return text
    return parse


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Reject
    return value.strip() or None


def _text_list(value: Any) -> list[str]:
    """A list, a JSON array, or a comma-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise _Reject from None
        else:
            value = text.split(",")
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise _Reject


def _directives(value: Any) -> list[str]:
    """Robots directive names, lower-cased: letters, digits, ``-`` and ``_``."""
    items = [item.lower() for item in _text_list(value)]
    if not all(re.fullmatch(r"[a-z0-9_-]+", item) for item in items):
        raise _Reject
    return items


def _patterns(value: Any) -> list[str] | None:
    if value is None:
        return None
    items = _text_list(value)
    for item in items:
        try:
            re.compile(item)
        except re.error as exc:
            raise _Reject(f"{item!r} is not a regular expression ({exc})") from None
    return items


def _tokens(value: Any) -> list[str]:
    from tdmguard.middlewares.readers.robots import is_product_token

    if value is None or value == "" or value == []:
        raise _Reject
    items = _text_list(value)
    if not items or not all(is_product_token(t) for t in items):
        raise _Reject
    return items


SECONDS = "a number of seconds >= 0"


def _maxsize(value: Any) -> int:
    """A rights-document size cap: 0 (Scrapy's own) or at least 1 MiB, so a
    robots.txt is always read past RFC 9309's 500 KiB floor."""
    size: int = _number(int, 0)(value)
    if 0 < size < 1024 * 1024:
        raise _Reject
    return size
SWITCH = "true or false (also 1/0, yes/no, on/off)"


def _switch(name: str) -> Setting:
    return Setting(name, True, SWITCH, _bool)


#: Every setting, in the README's order.
SETTINGS: tuple[Setting, ...] = (
    Setting("TDMGUARD_USER_AGENT", None,
            "RFC 9309 product token(s): letters, '_' and '-', comma-separated or a list",
            _tokens),
    Setting("TDMGUARD_USER_AGENT_INFO", None, "a URL describing the crawler", _optional_text),
    Setting("TDMGUARD_MODE", STRICT, " or ".join(MODES), _choice(*MODES)),
    Setting("TDMGUARD_PURPOSE", TRAIN_AI, ", ".join(PURPOSES), _choice(*PURPOSES)),
    Setting("TDMGUARD_DB", None, "a ledger file path", _optional_text),
    Setting("TDMGUARD_DB_BATCH_SIZE", 5000, "a whole number >= 1", _number(int, 1)),
    Setting("TDMGUARD_DB_FLUSH_INTERVAL", 1.0, "a number of seconds > 0",
            _number(float, 0.001)),
    _switch("TDMGUARD_GC_FREEZE"),
    _switch("TDMGUARD_ROBOTSTXT_ENABLED"),
    Setting("TDMGUARD_ROBOTSTXT_CACHE_TTL", 86400.0, SECONDS, _number(float, 0)),
    Setting("TDMGUARD_ROBOTSTXT_RETRY_AFTER", 300.0, SECONDS, _number(float, 0)),
    Setting("TDMGUARD_ROBOTSTXT_MAX_BYTES", 500 * 1024, "a whole number of bytes >= 0",
            _number(int, 0)),
    Setting("TDMGUARD_ROBOTSTXT_MAX_REDIRECTS", 5, "a whole number >= 0", _number(int, 0)),
    Setting("TDMGUARD_ROBOTSTXT_TOO_MANY_REDIRECTS", "unreachable",
            "unreachable or unavailable", _choice("unreachable", "unavailable")),
    _switch("TDMGUARD_ROBOTSTXT_CRAWL_DELAY"),
    Setting("TDMGUARD_AI_CRAWLERS", None, "a JSON file path", _optional_text),
    _switch("TDMGUARD_LOCATION_ENABLED"),
    Setting("TDMGUARD_LOCATION_CACHE_TTL", 86400.0, SECONDS, _number(float, 0)),
    Setting("TDMGUARD_LOCATION_RETRY_AFTER", 300.0, SECONDS, _number(float, 0)),
    Setting("TDMGUARD_DOCUMENT_TIMEOUT", 30.0, SECONDS + " (0: DOWNLOAD_TIMEOUT)",
            _number(float, 0)),
    Setting("TDMGUARD_DOCUMENT_MAXSIZE", 32 * 1024 * 1024,
            "a whole number of bytes >= 1048576 (0: DOWNLOAD_MAXSIZE)", _maxsize),
    _switch("TDMGUARD_TDMREP_ENABLED"),
    Setting("TDMGUARD_TDMREP_MATCHING", "first", "first or longest",
            _choice("first", "longest")),
    _switch("TDMGUARD_CONTENT_USAGE_ENABLED"),
    _switch("TDMGUARD_CONTENT_SIGNAL_ENABLED"),
    _switch("TDMGUARD_DISALLOW_AI_TRAINING_ENABLED"),
    _switch("TDMGUARD_AITXT_ENABLED"),
    _switch("TDMGUARD_RSL_ENABLED"),
    Setting("TDMGUARD_RSL_LICENSES", [], "licence URLs: a list or comma-separated",
            _text_list),
    _switch("TDMGUARD_RESPONSE_SIGNALS_ENABLED"),
    _switch("TDMGUARD_NOAI_ENABLED"),
    Setting("TDMGUARD_NOAI_EXTRA_DIRECTIVES", [],
            "robots directive names (noindex, noarchive...): a list or comma-separated",
            _directives),
    _switch("TDMGUARD_ASSETS_ENABLED"),
    _switch("TDMGUARD_IPTC_ENABLED"),
    _switch("TDMGUARD_C2PA_ENABLED"),
    _switch("TDMGUARD_BLOCKLIST_ENABLED"),
    Setting("TDMGUARD_BLOCKLISTS", [], "list file paths: a list or comma-separated",
            _text_list),
    _switch("TDMGUARD_BLOCKLIST_SHIPPED"),
    Setting("TDMGUARD_BLOCKLIST_ADVISORY", "block", "block or warn", _choice("block", "warn")),
    _switch("TDMGUARD_RIGHTSHOLDER_RESERVATION_ENABLED"),
    Setting("TDMGUARD_RESERVATIONS", [],
            "rightsholder-reservation list file paths: a list or comma-separated", _text_list),
    _switch("TDMGUARD_LAWFUL_ACCESS_ENABLED"),
    Setting("TDMGUARD_LOGIN_WALL_PATTERNS", None,
            "regular expressions: a list, a JSON array or comma-separated", _patterns),
    _switch("TDMGUARD_POLITENESS_ENABLED"),
    Setting("TDMGUARD_POLITENESS_CONCURRENCY", 2, "a whole number >= 0", _number(int, 0)),
    Setting("TDMGUARD_POLITENESS_DELAY", 0.25, SECONDS, _number(float, 0)),
    Setting("TDMGUARD_POLITENESS_BACKOFF", 2.0, SECONDS, _number(float, 0)),
    Setting("TDMGUARD_POLITENESS_MAX_WAIT", 600.0, SECONDS, _number(float, 0)),
    Setting("TDMGUARD_WARC", None, "a WARC file path (.warc or .warc.gz)", _optional_text),
    Setting("TDMGUARD_SIGNING_KEY", None, "an Ed25519 private key file path (PEM)",
            _optional_text),
    Setting("TDMGUARD_SIGNATURE_AGENT", None,
            "the https URL of the published key directory", _optional_text),
    # distributed crawls (redis_queue.py)
    Setting("TDMGUARD_REDIS_URL", None, "a redis:// URL", _optional_text),
    Setting("TDMGUARD_REDIS_KEY", "tdmguard:%(spider)s", "a key prefix", _optional_text),
    Setting("TDMGUARD_REDIS_IDLE_CLOSE", 10.0, SECONDS, _number(float, 0)),
    Setting("TDMGUARD_REDIS_WORKER_TTL", 30.0, "a number of seconds >= 1", _number(float, 1)),
)

SCHEMA: dict[str, Setting] = {s.name: s for s in SETTINGS}
#: The defaults the add-on sets at ``"addon"`` priority.
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_value(name: str, value: Any) -> Any:
    """The typed value of one setting, or a one-line :class:`SettingError`."""
    setting = SCHEMA.get(name)
    if setting is None:
        raise unknown(name)
    try:
        return setting.parse(value)
    except (_Reject, ValueError, TypeError) as exc:
        why = f"; {exc.args[0]}" if isinstance(exc, _Reject) and exc.args else ""
        raise SettingError(
            f"{name}={_shown(value)} is not usable: expected {setting.accepts}{why}"
        ) from None


def unknown(name: str) -> SettingError:
    # Compared without the shared prefix, which would make every name look close.
    suffixes = {n[len(PREFIX):]: n for n in SCHEMA}
    close = difflib.get_close_matches(name[len(PREFIX):], suffixes, n=1, cutoff=0.6)
    hint = f": did you mean {suffixes[close[0]]}?" if close else \
        f" (no {PREFIX}* setting has that name; the README lists them all)"
    return SettingError(f"unknown setting {name}{hint}")


def parse_all(values: Mapping[str, Any], names: Iterable[str] = ()) -> dict[str, Any]:
    """Every ``TDMGUARD_*`` setting typed: *values* holds what the user set
    (anything else takes its default); any ``TDMGUARD_*`` name in *values* or
    *names* that the schema does not know is an error."""
    for name in [*values, *names]:
        if name.startswith(PREFIX) and name not in SCHEMA:
            raise unknown(name)
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.name in values and values[setting.name] is not None:
            out[setting.name] = parse_value(setting.name, values[setting.name])
        elif setting.name == "TDMGUARD_USER_AGENT":
            out[setting.name] = None  # checked where a crawl needs it
        else:
            out[setting.name] = setting.default
    return out
