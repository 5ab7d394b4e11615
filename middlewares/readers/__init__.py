"""Protocol readers: pure functions from rights documents to reasons.

No Scrapy import anywhere in this package, so every reader is fuzzable and
reused by ``tdmguard check``. Each reader takes bytes, text or headers
(``str`` or ``bytes``, any mapping or list of pairs), never raises on content,
and returns a list of :class:`tdmguard.middlewares.vocab.Reason` whose ``protocol`` is
one of :data:`PROTOCOLS`. Location-level documents are parsed once per origin
into a small object whose ``evaluate(url, ...)`` is cheap; response-level
readers take the response's headers and one shared :func:`htmlhead.scan`.

Every reader takes ``purpose`` (default ``train-ai``) and ``mode`` (``strict``
default, or ``rfc``); which labels speak about which purpose is data, in
``middlewares/data/purposes.json``.

Per origin (parse once, cache with the robots.txt / well-known file):

- :mod:`.tdmrep`: ``TdmRepFile.parse(body, status, url)``
- :mod:`.aipref`: ``ContentUsageRules.parse(robots_body, tokens, url)``
- :mod:`.contentsignal`: ``ContentSignals.from_robots(robots, tokens, url)``
- :mod:`.aitraining`: ``AiTrainingRules.from_robots(robots, tokens, url)``
- :mod:`.rsl`: ``discover(robots=...)`` then ``RslDocument.parse(body, status, url)``
- :mod:`.aitxt`: ``AiTxt.parse(body, status, url)``

Per crawl (local list files, before any network):

- :mod:`.reservations`: ``ReservationFile.parse(body, source)``, then
  ``Reservations(files).evaluate(url)``

Per request (before download): each object's ``evaluate(url, ...)``, and
``rsl.evaluate_all(documents, url, ...)``. The robots.txt readers' objects say
``has_statements`` (cheap) so the hot path skips those with nothing to say.

Per response: ``head = htmlhead.scan(body)`` once, then
``tdmrep.resolve(url, file, headers, head, asset.tdm)``,
``aipref.header_reasons``, ``contentsignal.header_reasons``,
``noai.noai_reasons``, ``aitraining.directive_reasons`` and, for non-HTML
bodies, ``asset = assets.read_asset(body, content_type, url)`` and
``asset.reasons()``.

These signatures differ per reader; :mod:`tdmguard.middlewares.registry` wraps
each in one uniform ``evaluate(ctx)`` per stage, with its switch, and the
middlewares loop over that registry. A new reader needs one registry entry.
"""

from __future__ import annotations

from ._common import INTERNAL_ERROR, strongest

#: Every ``Reason.protocol`` value these readers emit (each has a registry entry).
PROTOCOLS = (
    "tdmrep",
    "content-usage",
    "content-signal",
    "noai",
    "disallow-ai-training",
    "rsl",
    "ai.txt",
    "iptc",
    "c2pa",
    "rightsholder-reservation",
)

__all__ = ["INTERNAL_ERROR", "PROTOCOLS", "strongest"]
