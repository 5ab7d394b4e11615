"""Progress on long work: a live line on a terminal, log lines elsewhere, or nothing.

:class:`Progress` is the one display, used by ``audit``, ``crawl`` and
``check``. On a terminal it is a tqdm line (done/total, rate, ETA, refusals
so far, and the origin being waited for and why, e.g. its Crawl-delay);
when the stream is not a terminal (a log file, CI), one plain line every
``interval`` seconds and a last one at the end; with ``quiet``, nothing.
Everything goes to the given stream (standard error by default), never to
standard output, which carries the command's data.

:class:`CrawlProgress` is the Scrapy extension that feeds a Progress from a
crawl: requests scheduled (the total), decisions recorded (done, and the
refusals among them), and every half second the origin the politeness
middleware is holding back (:meth:`PolitenessMiddleware.waiting
<tdmguard.middlewares.politeness.PolitenessMiddleware.waiting>`). The
commands switch it on with the ``CLI_PROGRESS`` setting, a dict of
``label``, ``total``, ``quiet`` and ``interval``.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

    from tdmguard.middlewares.vocab import Decision

#: Seconds between log lines when the stream is not a terminal.
LOG_INTERVAL = 10.0


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Progress of *total* units of work (None: not known yet).

    Use as a context manager, or call :meth:`close`. ``advance(n, refused=r)``
    counts *n* units done, *r* of them refused; ``waiting(origin, why)`` names
    the origin the work waits for (``waiting(None)`` clears it);
    ``set_total(n)`` changes the total.
    """

    def __init__(self, total: int | None, *, quiet: bool, label: str,
                 stream: IO[str] | None = None, interval: float = LOG_INTERVAL) -> None:
        self.total = total
        self.quiet = quiet
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.interval = interval
        self.done = 0
        self.refused = 0
        self.origin: str | None = None
        self.why = ""
        self.started = time.monotonic()
        self._last_log = self.started
        self._closed = False
        self._bar: Any = None
        if quiet:
            return
        isatty = getattr(self.stream, "isatty", None)
        if isatty is not None and isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, file=self.stream, unit=" url",
                             dynamic_ncols=True, mininterval=0.25, leave=True, smoothing=0,
                             disable=False)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- counting -------------------------------------------------------------

    def advance(self, n: int = 1, *, refused: int = 0) -> None:
        if self._closed:
            return
        self.done += n
        self.refused += refused
        if self._bar is not None:
            if refused:
                self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.update(n)
        else:
            self._maybe_log()

    def set_total(self, n: int | None) -> None:
        if self._closed or n == self.total:
            return
        self.total = n
        if self._bar is not None:
            self._bar.total = n
            self._bar.refresh()

    def waiting(self, origin: str | None, why: str = "") -> None:
        """The work waits for *origin* because *why* (None: not waiting)."""
        if self._closed:
            return
        changed = (origin, why) != (self.origin, self.why)
        self.origin, self.why = origin, why
        if self._bar is not None:
            if changed:
                self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.refresh()  # the elapsed time moves on while waiting
        else:
            self._maybe_log()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self.origin = None
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.close()
        elif not self.quiet:
            self._write(f"{self.label}: {self._count()} done, {self.refused} refused, "
                        f"in {_duration(time.monotonic() - self.started)}")

    # -- display --------------------------------------------------------------

    def _count(self) -> str:
        return f"{self.done}/{self.total}" if self.total is not None else str(self.done)

    def _postfix(self) -> str:
        text = f"{self.refused} refused"
        if self.origin:
            text += f", waiting for {self.origin}" + (f" ({self.why})" if self.why else "")
        return text

    def line(self) -> str:
        """The log line for the progress so far."""
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.label}: {self._count()} done", f"{self.refused} refused",
                 f"{rate:.1f}/s"]
        if self.total is not None and rate > 0 and self.total > self.done:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        parts.append(f"elapsed {_duration(elapsed)}")
        text = ", ".join(parts)
        if self.origin:
            text += f"; waiting for {self.origin}" + (f" ({self.why})" if self.why else "")
        return text

    def _maybe_log(self) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self._last_log >= self.interval:
            self._last_log = now
            self._write(self.line())

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe: progress is not worth failing for
            pass


class CrawlProgress:
    """Scrapy extension feeding a :class:`Progress` (setting ``CLI_PROGRESS``)."""

    #: Seconds between looks at which origin the crawl waits for.
    TICK = 0.5

    def __init__(self, crawler: Crawler) -> None:
        from scrapy import signals as scrapy_signals
        from scrapy.exceptions import NotConfigured

        from tdmguard.middlewares import signals

        options = crawler.settings.getdict("CLI_PROGRESS")
        if not options:
            raise NotConfigured("CLI_PROGRESS is not set")
        self.crawler = crawler
        self.progress = Progress(options.get("total"), quiet=bool(options.get("quiet")),
                                 label=str(options.get("label", "crawl")),
                                 interval=float(options.get("interval", LOG_INTERVAL)))
        self.floor = options.get("total") or 0
        self.scheduled = 0
        self._timer: Any = None
        crawler.signals.connect(self.request_scheduled, signal=scrapy_signals.request_scheduled)
        crawler.signals.connect(self.decision, signal=signals.decision_recorded)
        crawler.signals.connect(self.spider_opened, signal=scrapy_signals.spider_opened)
        crawler.signals.connect(self.close, signal=scrapy_signals.spider_closed)
        crawler.signals.connect(self.close, signal=scrapy_signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        return cls(crawler)

    def spider_opened(self, spider: Any = None) -> None:
        if self.progress.quiet:
            return
        from twisted.internet import task

        self._timer = task.LoopingCall(self.tick)
        self._timer.start(self.TICK, now=False)

    def request_scheduled(self, request: Request, spider: Any = None) -> None:
        from tdmguard.middlewares.vocab import AUX_META

        if request.meta.get(AUX_META):
            return
        self.scheduled += 1
        if self.scheduled > self.floor:
            self.progress.set_total(self.scheduled)

    def decision(self, decision: Decision) -> None:
        # A redirected request was scheduled once per hop; its one decision
        # (for the last hop) stands for all of them.
        refused = 1 if decision.stage in ("refused", "dropped") else 0
        self.progress.advance(1 + len(decision.redirect_urls), refused=refused)

    def tick(self) -> None:
        from tdmguard.middlewares.politeness import PolitenessMiddleware

        try:
            polite = self.crawler.get_downloader_middleware(PolitenessMiddleware)
        except RuntimeError:  # the engine is not running
            polite = None
        found = polite.waiting() if polite is not None else None
        self.progress.waiting(*(found or (None, "")))

    def close(self, *args: Any, **kwargs: Any) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        if not self.floor:
            # The crawl is over: what was scheduled and never decided was
            # filtered by Scrapy itself (offsite, duplicates), not left undone.
            self.progress.set_total(self.progress.done)
        self.progress.close()


def progress_options(func: Any) -> Any:
    """``-q/--quiet`` and ``--progress-every SECONDS``, for commands that show progress."""
    import click

    func = click.option("--progress-every", "progress_every", type=click.FloatRange(min=0),
                        default=LOG_INTERVAL, show_default=True, metavar="SECONDS",
                        help="When standard error is not a terminal, a progress line "
                        "this often (on a terminal: a live line).")(func)
    return click.option("-q", "--quiet", is_flag=True,
                        help="No progress on standard error.")(func)
