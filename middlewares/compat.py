"""The one Scrapy seam: every use of Scrapy internals, in one place.

tdmguard shapes Scrapy's per-origin download slots (Crawl-delay, politeness
limits, Retry-After holds), which no public Scrapy API exposes. Each function
here wraps one such use; its comment says what it does, why no public API
does it, and what public API would replace it. Nothing else in tdmguard may
touch a private Scrapy, Twisted or Protego name (``tests/test_compat.py``
checks the source). The code is tested on the oldest and the newest Scrapy
that ``pyproject.toml`` allows (``.ci/run``); where those differ, the
difference is handled here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from scrapy.utils.asyncio import call_later

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Downloader, Slot
    from scrapy.crawler import Crawler

__all__ = [
    "count_transfers_on_dequeue",
    "download_slot",
    "downloader",
    "hold_slot",
    "requests_in_progress",
    "set_slot_delay",
    "slot_has_jitter",
    "wake_engine",
]


def downloader(crawler: Crawler) -> Downloader:
    """The crawl's downloader (public attributes: ``slots``, ``DOWNLOAD_SLOT``,
    ``per_slot_settings``)."""
    engine = crawler.engine
    assert engine is not None, "the engine runs while requests are processed"
    return engine.downloader


def download_slot(crawler: Crawler, request: Request) -> tuple[str, Slot]:
    """The key and the download slot *request* will be downloaded in, creating
    the slot (with ``DOWNLOAD_SLOTS``, ``DOWNLOAD_DELAY`` and the concurrency
    settings applied) if it does not exist yet.

    Private: ``Downloader._get_slot`` (Scrapy 2.14 to 2.19). Public
    ``Downloader.get_slot_key`` gives the key, and ``Downloader.slots`` a slot
    that exists already, but only ``_get_slot`` creates one the way the
    downloader itself would, so our limits are applied before the first
    request of an origin is queued. A public ``Downloader.get_slot(request)``
    would replace it.
    """
    return downloader(crawler)._get_slot(request)


def set_slot_delay(slot: Slot, delay: float) -> None:
    """Set a slot's delay between downloads to *delay* seconds exactly, with no
    random variation (which would shorten some waits below a Crawl-delay).

    Public attributes, but they differ by version: Scrapy 2.14 has the
    boolean ``Slot.randomize_delay`` (±50 %); later versions have
    ``Slot.jitter`` (a magnitude) and deprecate ``randomize_delay``.
    ``DOWNLOAD_SLOTS = {key: {"delay": d, "jitter": 0}}`` is the public way,
    but it is read once at start-up, before robots.txt is known.
    """
    slot.delay = delay
    if hasattr(slot, "jitter"):
        slot.jitter = 0.0
    else:  # Scrapy 2.14
        slot.randomize_delay = False


def slot_has_jitter(slot: Slot) -> bool:
    """True if the slot varies its delay at random (either spelling, as above)."""
    if hasattr(slot, "jitter"):
        return bool(slot.jitter)
    return bool(getattr(slot, "randomize_delay", False))


def hold_slot(crawler: Crawler, slot: Slot, seconds: float) -> None:
    """Start no download from *slot* for *seconds* (a ``Retry-After`` hold),
    replacing any pending wake-up; queued requests stay queued.

    Private: the downloader blocks a slot while ``Slot.latercall`` (a
    scheduled call, public name but internal use) is set, and
    ``Downloader._latercall(slot)`` clears it and resumes the queue; this
    schedules that call ourselves. No public API pauses one slot (the engine
    can only pause the whole crawl). A public ``Slot.hold(seconds)`` or a
    ``Retry-After``-aware RetryMiddleware would replace it.
    """
    if slot.latercall is not None:
        slot.latercall.cancel()
    slot.latercall = call_later(max(0.0, seconds), downloader(crawler)._latercall, slot)


class _TransferQueue(deque):  # type: ignore[type-arg]
    """A slot queue that counts a request as transferring as soon as it leaves."""

    def __init__(self, slot: Slot, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self.slot = slot

    def popleft(self) -> Any:
        item = super().popleft()
        # The queue holds (request, deferred) pairs.
        self.slot.transferring.add(item[0])
        return item


def count_transfers_on_dequeue(slot: Slot) -> None:
    """Make *slot* honour its concurrency for requests queued together.

    Scrapy adds a request to ``Slot.transferring`` only when its download
    task first runs, after ``Downloader._process_queue`` has already popped
    every request it saw free room for; so requests queued in one tick all
    start at once, past the slot's concurrency. Replacing ``Slot.queue`` with
    a deque that counts a request at ``popleft`` keeps the limit (adding it
    again when the task runs is harmless: it is a set).

    Private: the queue's items are the internal ``(request, deferred)`` pairs
    (Scrapy 2.14 to 2.19). No public API exists; the fix belongs in Scrapy
    (count the transfer in ``_process_queue``), which would make this a no-op.
    """
    if type(slot.queue) is deque:
        slot.queue = _TransferQueue(slot, slot.queue)


def requests_in_progress(crawler: Crawler) -> Collection[Request]:
    """The requests the engine has taken from the scheduler (or downloads for
    a component) and not finished with: downloading, or their response still
    being processed by the spider (links not yet queued).

    Private: ``ExecutionEngine._slot.inprogress`` (Scrapy 2.14 to 2.19). The
    distributed scheduler keeps a request in its worker's in-flight list in
    Redis until it leaves this set, so a killed worker's unfinished requests
    go back to the queue. A public "request finished" signal (sent where the
    engine calls ``_remove_request``) would replace it.
    """
    engine = crawler.engine
    slot = getattr(engine, "_slot", None) if engine is not None else None
    return slot.inprogress if slot is not None else frozenset()


def wake_engine(crawler: Crawler, delay: float) -> None:
    """Make the engine ask the scheduler for requests again in *delay* seconds.

    Private: ``ExecutionEngine._slot.nextcall`` (Scrapy 2.14 to 2.19). An idle
    worker of a distributed crawl polls the shared queue, which other workers
    fill; the engine's own heartbeat asks only every 5 s. A public
    ``ExecutionEngine.wake(delay)`` would replace it.
    """
    engine = crawler.engine
    slot = getattr(engine, "_slot", None) if engine is not None else None
    if slot is not None:
        slot.nextcall.schedule(delay)
