"""Lawful access (Code of Practice Measure 1.2(1)(a)).

:class:`LawfulAccess` is a response check run by
:class:`~tdmguard.middlewares.decisions.DecisionMiddleware`
(``TDMGUARD_LAWFUL_ACCESS_ENABLED``). A response is dropped, with a
``lawful-access`` reason, when it answers 401, 402, 403, 407 or 451; when the
page is marked as not free (schema.org ``isAccessibleForFree`` false, in
JSON-LD, top level, ``@graph``, ``mainEntity`` or ``hasPart``, or in
microdata / RDFa, read from the same one scan of the page that the response
signals use); or when it was reached through a redirect to a login,
subscription or consent wall (``TDMGUARD_LOGIN_WALL_PATTERNS``, regular
expressions searched in each redirect target URL, case-insensitively). Such
pages are never retried by other means: the drop happens before Scrapy's
RetryMiddleware sees the response, and tdmguard never sends credentials.

:class:`LawfulAccessMiddleware` (downloader, order 70, after the blocklist)
refuses a redirect to a wall *before* it is requested, and refuses to start a
spider carrying ``http_user``/``http_pass``. The add-on calls
:func:`refuse_credentials` to switch Scrapy's HttpAuthMiddleware off and to
refuse ``HTTPAUTH_*`` settings.

Polite crawling (``TDMGUARD_POLITENESS_*``) is the separate
:mod:`tdmguard.middlewares.politeness`.

Stats: ``tdmguard/lawful_access/dropped/<status|paywall|wall>``,
``tdmguard/lawful_access/refused/wall``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from scrapy.http import TextResponse
from scrapy.settings import SETTINGS_PRIORITIES

from tdmguard.middlewares import schema
from tdmguard.middlewares.exceptions import Refused
from tdmguard.middlewares.readers import htmlhead
from tdmguard.middlewares.settings import ConfigError, require_enabled
from tdmguard.middlewares.vocab import AUX_META, RESERVED, Reason, add_reasons

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

MEASURE = "Code of Practice Measure 1.2(1)(a)"
#: Statuses that deny or restrict access; never retried, never worked around.
STATUSES = {
    401: "the server requires authentication",
    402: "the server requires payment",
    403: "the server forbids access",
    407: "a proxy requires authentication",
    451: "the content is unavailable for legal reasons",
}
#: Default TDMGUARD_LOGIN_WALL_PATTERNS, searched in redirect targets.
DEFAULT_WALL_PATTERNS = [
    # a host whose first label names a login, account or consent service
    (r"^https?://(?:login|signin|sign-in|sso|auth|accounts?|myaccount|consent"
     r"|subscribe|subscriptions?|paywall)\."),
    # login and registration pages
    (r"^https?://[^/?#]+/(?:[^?#]*/)?(?:log[-_]?in|log[-_]?on|sign[-_]?in|sign[-_]?on|sso"
     r"|auth|oauth2?|authenticate|authorize|session/new|register|registration|sign[-_]?up)"
     r"(?:[/?#.;]|$)"),
    # subscription and payment walls
    (r"^https?://[^/?#]+/(?:[^?#]*/)?(?:subscribe|subscriptions?|subscriber-only"
     r"|paywall|premium-?wall|membership|become-a-member|join-?now|checkout)"
     r"(?:[/?#.;]|$)"),
    # consent walls
    (r"^https?://[^/?#]+/(?:[^?#]*/)?(?:consent|cookie-?consent|cookie-?wall"
     r"|privacy-?consent|privacy-?gate(?:way)?|gdpr(?:-consent)?)(?:[/?#.;]|$)"),
]
HTTPAUTH = "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware"
_CREDENTIAL_SETTINGS = ("HTTPAUTH_USER", "HTTPAUTH_PASS", "http_user", "http_pass",
                        "HTTP_USER", "HTTP_PASS")
_FREE_KEYS = ("isAccessibleForFree", "schema:isAccessibleForFree",
              "http://schema.org/isAccessibleForFree",
              "https://schema.org/isAccessibleForFree")
_FALSE = frozenset({"false", "schema:false", "http://schema.org/false",
                    "https://schema.org/false"})
_JSON = re.compile(rb"\s*[\[{]")
# A JSON-LD block that is not valid JSON still says "not free" if this matches.
_FALSE_IN_TEXT = re.compile(
    r"isAccessibleForFree\"?\s*:\s*\"?(?:false|(?:https?://)?schema(?:\.org/|:)False)\b",
    re.IGNORECASE)


# -- settings -----------------------------------------------------------------


def wall_patterns(settings: BaseSettings) -> list[re.Pattern[str]]:
    """``TDMGUARD_LOGIN_WALL_PATTERNS`` compiled (case-insensitive); parsed by
    the one settings schema, whose :class:`ConfigError` names a bad pattern."""
    value = settings.get("TDMGUARD_LOGIN_WALL_PATTERNS")
    patterns = DEFAULT_WALL_PATTERNS if value is None else \
        schema.parse_value("TDMGUARD_LOGIN_WALL_PATTERNS", value)
    return [re.compile(str(p).strip(), re.IGNORECASE) for p in patterns or ()]


def refuse_credentials(settings: BaseSettings) -> None:
    """Switch Scrapy's HttpAuthMiddleware off; refuse any credential setting."""
    for name in _CREDENTIAL_SETTINGS:
        if settings.get(name):
            raise ConfigError(
                f"{name} is set: tdmguard never sends credentials and never crawls "
                f"logged in ({MEASURE}); remove it")
    domain_priority = settings.getpriority("HTTPAUTH_DOMAIN") or 0
    if domain_priority > SETTINGS_PRIORITIES["default"] and settings.get("HTTPAUTH_DOMAIN"):
        raise ConfigError(
            "HTTPAUTH_DOMAIN is set: tdmguard never sends credentials; remove it")
    mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
    from scrapy.downloadermiddlewares.httpauth import HttpAuthMiddleware

    for key, order in mws.items():
        if (key == HTTPAUTH or key is HttpAuthMiddleware) and order is not None:
            raise ConfigError(
                "HttpAuthMiddleware is enabled in DOWNLOADER_MIDDLEWARES: tdmguard "
                "never sends credentials; remove the entry")
    if HTTPAUTH not in mws:
        settings["DOWNLOADER_MIDDLEWARES"] = {**mws, HTTPAUTH: None}



# -- lawful access ------------------------------------------------------------


def _is_false(value: Any) -> bool:
    if isinstance(value, list):
        return any(_is_false(v) for v in value)
    if isinstance(value, dict):
        return _is_false(value.get("@value", value.get("@id")))
    if value is False:
        return True
    return isinstance(value, str) and value.strip().lower() in _FALSE


def _not_free(node: Any, where: str) -> Iterator[str]:
    """Where in a JSON-LD tree the page, or a part of it, is marked not free."""
    if isinstance(node, list):
        for item in node:
            yield from _not_free(item, where)
        return
    if not isinstance(node, dict):
        return
    if any(_is_false(node.get(key)) for key in _FREE_KEYS):
        yield where
    yield from _not_free(node.get("@graph"), where)
    for key in ("hasPart", "mainEntity"):
        yield from _not_free(node.get(key), f"{where} {key}")


def paywall_reasons(response: Response) -> list[Reason]:
    """``isAccessibleForFree`` false in the page's JSON-LD, microdata or RDFa,
    read from the page's one :func:`~tdmguard.middlewares.readers.htmlhead.scan`
    (the response signals' scan of the same body, when they made one)."""
    if not isinstance(response, TextResponse) or _JSON.match(response.body):
        return []  # JSON, for one, has no markup
    head = htmlhead.scan(response.body, content_type=response.headers.get(b"Content-Type"))
    if not head.free_marked:
        return []
    found: list[tuple[str, str]] = []
    for script in head.jsonld:
        try:
            data = json.loads(script.text, strict=False)
        except ValueError:
            if _FALSE_IN_TEXT.search(script.text):
                found.append(("JSON-LD", "isAccessibleForFree: false (invalid JSON-LD)"))
            continue
        found += [("JSON-LD", f"isAccessibleForFree: false ({where})")
                  for where in _not_free(data, "JSON-LD")]
    for prop in head.free_props:
        if _is_false(prop.value):
            found.append((prop.kind, f'{prop.kind} isAccessibleForFree="{prop.value}"'))
    return [Reason("lawful-access", RESERVED, rule=rule, source=source,
                   detail="the page is marked as not free to access (schema.org "
                   f"isAccessibleForFree); paywalled content is not crawled ({MEASURE})")
            for source, rule in dict.fromkeys(found)]


def wall_reason(targets: list[str], patterns: list[re.Pattern[str]]) -> Reason | None:
    """The first redirect target that is a login, subscription or consent wall."""
    for url in targets:
        for pattern in patterns:
            if pattern.search(url):
                return Reason(
                    "lawful-access", RESERVED, rule=pattern.pattern, source=url,
                    detail=f"redirected to {url}, a login, subscription or consent "
                    f"wall (TDMGUARD_LOGIN_WALL_PATTERNS); walls are never crawled "
                    f"through ({MEASURE})")
    return None


def redirect_targets(request: Request, final_url: str | None = None) -> list[str]:
    redirects = request.meta.get("redirect_urls") or []
    return [*redirects[1:], final_url or request.url] if redirects else []


class LawfulAccess:
    """Response check: statuses, paywall markup and login-wall redirects."""

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        require_enabled(s, "TDMGUARD_LAWFUL_ACCESS_ENABLED")
        self.crawler = crawler
        self.patterns = wall_patterns(s)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LawfulAccess:
        return cls(crawler)

    def check(self, request: Request, response: Response) -> list[Reason]:
        reasons: list[Reason] = []
        kind = ""
        wall = wall_reason(redirect_targets(request, response.url), self.patterns)
        if wall is not None:
            reasons.append(wall)
            kind = "wall"
        if response.status in STATUSES:
            reasons.append(Reason(
                "lawful-access", RESERVED, rule=f"HTTP {response.status}",
                source="HTTP status",
                detail=f"{STATUSES[response.status]}; tdmguard neither retries nor "
                f"works around it ({MEASURE})"))
            kind = kind or "status"
        elif (paywall := paywall_reasons(response)):
            reasons += paywall
            kind = kind or "paywall"
        if kind:
            self.stats.inc_value(f"tdmguard/lawful_access/dropped/{kind}")
            logger.debug("Dropped for lawful access (%(kind)s): %(request)s",
                         {"kind": kind, "request": request})
        return reasons


class LawfulAccessMiddleware(LawfulAccess):
    """Downloader middleware: refuse a redirect to a wall before requesting it."""

    def __init__(self, crawler: Crawler) -> None:
        spider = crawler.spider
        for name in ("http_user", "http_pass"):
            if getattr(spider, name, None):
                raise ConfigError(
                    f"the spider sets {name}: tdmguard never sends credentials and "
                    f"never crawls logged in ({MEASURE}); remove it")
        super().__init__(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LawfulAccessMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(AUX_META):
            return
        reason = wall_reason(redirect_targets(request), self.patterns)
        if reason is None:
            return
        self.stats.inc_value("tdmguard/lawful_access/refused/wall")
        logger.debug("Refused, redirect to a wall: %(request)s", {"request": request})
        add_reasons(request, [reason])
        raise Refused([reason])

