"""The one-line add-on: ``ADDONS = {"tdmguard.TdmGuard": 0}``.

Sets every ``TDMGUARD_*`` default at ``"addon"`` priority (project settings
win), switches Scrapy's fail-open ``RobotsTxtMiddleware`` off, installs
tdmguard's components without clobbering a user's entries, and builds a
User-Agent header carrying the product token when the user left Scrapy's
default (whose "Scrapy" token is itself on the AI-crawler block lists).
A user-set User-Agent that does not carry the token is a start-up error.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from typing import TYPE_CHECKING

from scrapy.settings import SETTINGS_PRIORITIES, default_settings

from tdmguard.middlewares import blocklist_settings, lawful, signing, warc
from tdmguard.middlewares.blocklist import BlocklistMiddleware, BlocklistSpiderMiddleware
from tdmguard.middlewares.compression import (
    SCRAPY_COMPRESSION,
    RecordedHttpCompressionMiddleware,
)
from tdmguard.middlewares.decisions import DecisionMiddleware
from tdmguard.middlewares.lawful import LawfulAccessMiddleware
from tdmguard.middlewares.ledger import Ledger, LedgerError
from tdmguard.middlewares.location import LocationRulesMiddleware
from tdmguard.middlewares.politeness import PolitenessMiddleware
from tdmguard.middlewares.provenance import ProvenanceLog
from tdmguard.middlewares.redirects import RedirectGuard
from tdmguard.middlewares.robotstxt import RobotsTxtMiddleware
from tdmguard.middlewares.runtime import GcFreeze
from tdmguard.middlewares.settings import (
    DEFAULTS,
    ConfigError,
    build_user_agent,
    parse_tokens,
    validate,
)

if TYPE_CHECKING:
    from scrapy.settings import Settings

logger = logging.getLogger(__name__)

SCRAPY_ROBOTS = "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"

#: Our downloader middlewares and their orders (Scrapy's RobotsTxt is 100).
COMPONENTS: dict[type, int] = {
    BlocklistMiddleware: 60,  # before robots.txt: a listed host is never contacted
    LawfulAccessMiddleware: 70,
    RobotsTxtMiddleware: 100,
    LocationRulesMiddleware: 120,
    PolitenessMiddleware: 570,  # sees 429/503 before RetryMiddleware (550)
    DecisionMiddleware: 585,
    RedirectGuard: 605,  # sees a redirect before RedirectMiddleware (600) gives up
}
#: Scrapy settings the add-on sets at "addon" priority (a user's value wins):
#: a hanging page fails in 20 s per attempt (Scrapy's 180 s with two retries
#: is 9 minutes), and a page body is capped at 64 MiB (Scrapy's 1 GiB, inflated
#: in memory, lets one decompression bomb take gigabytes).
SCRAPY_DEFAULTS = {"DOWNLOAD_TIMEOUT": 20, "DOWNLOAD_MAXSIZE": 64 * 1024 * 1024,
                   "DOWNLOAD_FAIL_ON_DATALOSS": True}
SPIDER_COMPONENTS: dict[type, int] = {BlocklistSpiderMiddleware: 60}
EXTENSIONS: dict[type, int] = {ProvenanceLog: 500, GcFreeze: 510}


def _under_scrapy_command_line() -> bool:
    """True when Scrapy's own command line (``scrapy crawl``) runs this crawl."""
    return any(f.function == "execute" and f.filename.endswith(os.path.join("scrapy", "cmdline.py"))
               for f in inspect.stack(context=0))


class TdmGuard:
    """tdmguard's Scrapy add-on."""

    def update_settings(self, settings: Settings) -> None:
        try:
            self._update_settings(settings)
        except ConfigError as exc:
            if not _under_scrapy_command_line():
                raise
            # `scrapy crawl` would log a traceback from inside a Deferred and
            # exit 1: a settings error is the user's to fix, one line, status 2
            # (nothing is open yet at add-on time, so nothing is lost).
            sys.stdout.flush()
            sys.stderr.write(f"tdmguard: error: {exc}\n")
            sys.stderr.flush()
            os._exit(2)

    def _update_settings(self, settings: Settings) -> None:
        for name, value in DEFAULTS.items():
            settings.set(name, value, "addon")
        # One typed schema: a bad value or an unknown TDMGUARD_* name stops the
        # crawl with one line; the typed values replace what the user wrote.
        for name, value in validate(settings).items():
            priority = settings.getpriority(name)
            if priority is not None and priority > SETTINGS_PRIORITIES["addon"]:
                settings.set(name, value, priority)
        if settings.get("TDMGUARD_DB"):
            # An unusable ledger (a bad path, a file that is not a tdmguard
            # ledger) stops the crawl before any request: opened and closed here.
            try:
                Ledger(settings.get("TDMGUARD_DB")).close()
            except LedgerError as exc:
                raise ConfigError(f"TDMGUARD_DB: {exc}") from None
        settings.set("ROBOTSTXT_OBEY", False, "addon")
        for name, value in SCRAPY_DEFAULTS.items():
            settings.set(name, value, "addon")
        mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
        if SCRAPY_ROBOTS not in mws:
            settings["DOWNLOADER_MIDDLEWARES"] = {**mws, SCRAPY_ROBOTS: None}
        mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
        if SCRAPY_COMPRESSION not in mws:
            # The same decompression, but a response it drops gets a decision.
            settings["DOWNLOADER_MIDDLEWARES"] = {
                **mws, SCRAPY_COMPRESSION: None, RecordedHttpCompressionMiddleware: 590}
        for cls, order in COMPONENTS.items():
            settings.setdefault_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", cls, order)
        for cls, order in SPIDER_COMPONENTS.items():
            settings.setdefault_in_component_priority_dict("SPIDER_MIDDLEWARES", cls, order)
        for cls, order in EXTENSIONS.items():
            settings.setdefault_in_component_priority_dict("EXTENSIONS", cls, order)
        if settings.get("TDMGUARD_WARC"):  # after ProvenanceLog: ids come from the ledger
            warc.check_settings(settings)
            settings.setdefault_in_component_priority_dict("EXTENSIONS", warc.WarcExport, 520)
        # Never crawl logged in: HttpAuthMiddleware off, credential settings refused.
        lawful.refuse_credentials(settings)
        # A missing or unusable list file stops the crawl before it starts.
        blocklist_settings.check_settings(settings)
        # Web Bot Auth: with TDMGUARD_SIGNING_KEY every request is signed (order
        # 950, last); an unusable key or directory URL stops the crawl here.
        signing.install(settings)
        # Distributed crawl: with TDMGUARD_REDIS_URL the queue, the politeness and
        # the rights documents are shared by every worker (redis_queue.py).
        if settings.get("TDMGUARD_REDIS_URL"):
            from tdmguard.middlewares import redis_queue

            redis_queue.install(settings)

        tokens = parse_tokens(settings.get("TDMGUARD_USER_AGENT"))
        user_agent = settings.get("USER_AGENT")
        if user_agent == default_settings.USER_AGENT or not user_agent:
            settings.set(
                "USER_AGENT",
                build_user_agent(tokens, settings.get("TDMGUARD_USER_AGENT_INFO")),
                "addon",
            )
        elif not any(t.lower() in str(user_agent).lower() for t in tokens):
            raise ConfigError(
                f"USER_AGENT {user_agent!r} does not carry the product token "
                f"{tokens[0]!r}: include it, or leave USER_AGENT unset and tdmguard "
                "builds one"
            )
