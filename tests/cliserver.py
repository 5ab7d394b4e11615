"""A fork server for the CLI tests: the real ``tdmguard`` CLI without ~1 s of imports per run.

``tests/conftest.py:run_cli`` starts this module once per pytest worker
(``python -m tests.cliserver``). It imports the CLI, Scrapy and every tdmguard
module once, and then, for each request, ``os.fork()``s a child that is what
``tdmguard ARGS`` would be in a fresh interpreter: its own environment, working
directory, standard streams (files the caller reads afterwards), its own
Twisted reactor (installed in the child: this process never installs one, which
is checked) and an ordinary interpreter exit (atexit handlers, stream flush).

Why a separate single-threaded server rather than forking the pytest worker:
the worker runs execnet threads and holds pytest's capture, log handlers and
``filterwarnings = error``; a child of this server carries none of that, so a
run differs from a real subprocess only in skipping the imports.

Protocol on fds 0/1 (never through ``sys.stdin``/``sys.stdout``): the caller
writes one length-prefixed JSON request; the server answers ``{"pid": N}`` as
soon as the child exists, then ``{"returncode": N}`` when it has ended. A
caller that times out kills the child's process group itself.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import pkgutil
import struct
import sys
from typing import Any

REACTOR = "twisted.internet.reactor"
HEADER = struct.Struct("!I")
#: What a crawl may import (not tdmguard.tests, nor the benchmarks).
PACKAGES = ("tdmguard.crawler", "tdmguard.middlewares", "tdmguard.blocklists", "tdmguard.policy")


def read_message(fd: int) -> dict[str, Any] | None:
    header = read_exactly(fd, HEADER.size)
    if header is None:
        return None
    body = read_exactly(fd, HEADER.unpack(header)[0])
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


def read_exactly(fd: int, n: int) -> bytes | None:
    chunks = b""
    while len(chunks) < n:
        chunk = os.read(fd, n - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


def write_message(fd: int, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    data = HEADER.pack(len(body)) + body
    while data:
        data = data[os.write(fd, data):]


def warm_up() -> None:
    """Import what a crawl imports, without installing a reactor."""
    for package in PACKAGES:
        try:
            module = importlib.import_module(package)
        except Exception:  # noqa: BLE001, S112 - a module that cannot import is the test's business
            continue
        for info in pkgutil.walk_packages(module.__path__, f"{package}.", onerror=lambda _: None):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001, S112
                continue
    from scrapy.utils.misc import load_object

    from tdmguard.crawler.run import base_settings

    settings = base_settings({})
    paths: set[str] = set()
    for name in ("DOWNLOADER_MIDDLEWARES_BASE", "SPIDER_MIDDLEWARES_BASE", "EXTENSIONS_BASE",
                 "DOWNLOAD_HANDLERS_BASE", "FEED_EXPORTERS_BASE"):
        for key, value in settings.getdict(name).items():
            paths.update(x for x in (key, value) if isinstance(x, str) and "." in x)
    for name in ("SCHEDULER", "DUPEFILTER_CLASS", "STATS_CLASS", "DOWNLOADER",
                 "SCHEDULER_PRIORITY_QUEUE", "SCHEDULER_MEMORY_QUEUE",
                 "REQUEST_FINGERPRINTER_CLASS", "LOG_FORMATTER", "SPIDER_LOADER_CLASS"):
        value = settings.get(name)
        if isinstance(value, str):
            paths.add(value)
    for path in sorted(paths):
        try:
            load_object(path)
        except Exception:  # noqa: BLE001, S112 - optional components (e.g. boto)
            continue
    for name in ("scrapy.crawler", "scrapy.core.engine", "scrapy.core.scraper",
                 "scrapy.core.downloader.handlers.http11", "scrapy.linkextractors",
                 "scrapy.utils.log", "twisted.internet.asyncioreactor", "sqlite3"):
        importlib.import_module(name)
    # tldextract builds its Public Suffix List trie on first use (0.1 s):
    # build it once here, from the same bundled snapshot every run reads.
    try:
        from tdmguard.blocklists.domains import EXTRACT

        EXTRACT("warm.example.co.uk")
    except Exception:  # noqa: BLE001, S110 - the runs will report it
        pass
    if REACTOR in sys.modules:  # pragma: no cover - would make every child share it
        raise SystemExit("cliserver: warming up installed a Twisted reactor")


def become_child(request: dict[str, Any]) -> None:
    """In the forked child: take the run's streams, directory and environment."""
    os.setpgid(0, 0)  # the caller kills the whole group on a timeout
    stdin = os.open(request["stdin"] or os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_TRUNC)
    stderr = os.open(request["stderr"], os.O_WRONLY | os.O_TRUNC)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # As for a console script, the working directory is not on sys.path;
    # scrapy.cfg in cwd still finds its project (get_project_settings).
    sys.argv = ["tdmguard", *request["args"]]


def run_child() -> None:
    """In the forked child: be ``tdmguard ARGS`` and exit as it would."""
    from tdmguard.crawler.cli import cli

    # What the console script does, sys.exit(cli()), with the name click
    # would find for it (here it would see ``python -m tests.cliserver``);
    # SystemExit unwinds to the interpreter, which exits as a fresh one would.
    sys.exit(cli.main(prog_name="tdmguard"))


def serve() -> None:
    # ``python -m`` put the repository on sys.path; the console script a user
    # runs does not have it (a bare ``import crawler`` must fail here too).
    if sys.path and os.path.abspath(sys.path[0]) == os.getcwd():
        del sys.path[0]
    warm_up()
    # Children share the warm objects copy-on-write; keep the collector off
    # them (a normal exit otherwise touches every page: 0.34 s against 0.11 s).
    gc.collect()
    gc.freeze()
    while True:
        request = read_message(0)
        if request is None:
            return
        if REACTOR in sys.modules:  # pragma: no cover - every child would share it
            raise SystemExit("cliserver: a Twisted reactor was installed in the server")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                become_child(request)
            except BaseException as exc:  # noqa: BLE001 - set-up failed: say so, never return
                os.write(2, f"cliserver child set-up failed: {exc!r}\n".encode())
                os._exit(70)
            # An exception from the CLI unwinds out of serve(): the interpreter
            # prints its traceback and exits 1, as a fresh process would.
            run_child()
        write_message(1, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        write_message(1, {"returncode": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    serve()
