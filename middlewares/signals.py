"""tdmguard's signals (documented bare objects, as scrapy.signals).

``decision_recorded``: sent once per request decision, with ``decision``
(a :class:`tdmguard.middlewares.vocab.Decision`).

``snapshot_fetched``: sent once per rights-document fetch (robots.txt, ...),
with ``snapshot`` (a :class:`tdmguard.middlewares.snapshots.Snapshot`).
"""

decision_recorded = object()
snapshot_fetched = object()
