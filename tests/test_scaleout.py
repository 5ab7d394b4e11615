"""Distributed crawls on a real redis-server: several worker processes, one fixture web.

One redis-server (module scope, its own free port, no persistence) and one
warm fork server that starts each worker as ``tdmguard crawl --redis ...``
in a fresh child (so a worker costs no imports). What the site saw comes from
the fixture web's request log.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis  # the `test` extra installs it

from tdmguard.crawler.fixtureweb import FixtureWeb

from .conftest import ROOT, cli_env

# A real redis-server is part of the test bed (.ci/run installs Debian's):
# without it these tests fail rather than skip, so CI cannot pass untested.
REDIS_SERVER = shutil.which("redis-server")
assert REDIS_SERVER, "redis-server is not installed (apt-get install redis-server)"

#: Robots.txt Crawl-delay of slow.example (seconds): the gap every worker keeps together.
CRAWL_DELAY = 0.4
SLOW_PAGES = 3
FAST_PAGES = 36


# -- a warm fork server for worker processes -----------------------------------------

def _serve() -> None:  # pragma: no cover - runs in the server process
    """``python -c 'from tests.test_scaleout import _serve; _serve()'``: fork a
    ``tdmguard`` child per "run" request (not waiting), reap it on "wait"."""
    from tests.cliserver import become_child, read_message, run_child, warm_up, write_message

    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    warm_up()
    gc.collect()
    gc.freeze()
    while True:
        request = read_message(0)
        if request is None:
            return
        if request["op"] == "run":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    become_child(request)
                except BaseException as exc:  # noqa: BLE001
                    os.write(2, f"set-up failed: {exc!r}\n".encode())
                    os._exit(70)
                run_child()
            write_message(1, {"pid": pid})
        else:  # "poll": never blocks, so several callers can take turns
            pid, status = os.waitpid(request["pid"], os.WNOHANG)
            write_message(1, {"returncode": os.waitstatus_to_exitcode(status) if pid
                              else None})


class Workers:
    def __init__(self, tmp: Path) -> None:
        from .cliserver import read_message, write_message

        self.tmp = tmp
        self._read, self._write = read_message, write_message
        self.proc = subprocess.Popen(
            # -W error: a deprecation warning (scrapy-redis on Scrapy 2.19) fails the crawl.
            [sys.executable, "-W", "error", "-c",
             "from tests.test_scaleout import _serve; _serve()"],
            cwd=ROOT, env=cli_env(None), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.n = 0
        self.lock = threading.Lock()

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:
            self._write(self.proc.stdin.fileno(), message)
            reply = self._read(self.proc.stdout.fileno())
        assert reply is not None, "the worker fork server ended"
        return reply

    def start(self, args: list[str], web: FixtureWeb) -> tuple[int, Path]:
        self.n += 1
        out, err = self.tmp / f"worker{self.n}.out", self.tmp / f"worker{self.n}.err"
        out.write_bytes(b"")
        err.write_bytes(b"")
        reply = self._ask({"op": "run", "args": args, "env": cli_env(web), "cwd": str(ROOT),
                           "stdout": str(out), "stderr": str(err), "stdin": None})
        return reply["pid"], err

    def wait(self, pid: int, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while (code := self._ask({"op": "poll", "pid": pid})["returncode"]) is None:
            assert time.monotonic() < deadline, f"worker {pid} did not end"
            time.sleep(0.05)
        return int(code)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_cli(args: list[str]) -> Any:
    """A ledger command, in-process (click's CliRunner): its exit code and stdout."""
    from click.testing import CliRunner

    from tdmguard.crawler.cli import cli

    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    result.returncode = result.exit_code
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    assert REDIS_SERVER is not None
    port = _free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield url
    client.close()
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    w = Workers(tmp_path_factory.mktemp("workers"))
    yield w
    w.close()


def build_web() -> FixtureWeb:
    """Three origins: news (links, a disallowed folder), shop (a page links
    across), slow (Crawl-delay)."""
    web = FixtureWeb()
    web.add("http://news.example/robots.txt", "User-agent: *\nDisallow: /private/\n")
    for i in range(FAST_PAGES):
        links = "".join(f'<a href="/p{j}">{j}</a>' for j in (2 * i + 1, 2 * i + 2)
                        if j < FAST_PAGES)
        links += f'<a href="/private/{i}">private</a><a href="/p{i // 2}">up</a>'
        web.add(f"http://news.example/p{i}", f"<html><body>{links}</body></html>",
                delay=0.04)
    web.add("http://news.example/.well-known/tdmrep.json",
            '[{"location": "/p7", "tdm-reservation": 1}]',
            headers={"Content-Type": "application/json"})
    web.add("http://slow.example/robots.txt",
            f"User-agent: *\nCrawl-delay: {CRAWL_DELAY}\nDisallow: /nope\n")
    for i in range(SLOW_PAGES):
        links = "".join(f'<a href="/s{j}">{j}</a>' for j in range(SLOW_PAGES))
        web.add(f"http://slow.example/s{i}", f"<html><body>{links}<a href='/nope'>n</a>"
                "</body></html>")
    return web


SEEDS = ["http://news.example/p0", "http://slow.example/s0"]


def crawl_args(db: Path, redis_url: str | None, key: str, *extra: str,
               seeds: list[str] = SEEDS) -> list[str]:
    args = ["crawl", *seeds, "--user-agent", "ScaleBot", "--db", str(db), "-q",
            "--format", "jsonl", "-s", "TDMGUARD_POLITENESS_DELAY=0",
            "-s", "DOWNLOAD_TIMEOUT=5", *extra]
    if redis_url:
        args += ["--redis", redis_url, "-s", f"TDMGUARD_REDIS_KEY={key}",
                 "-s", "TDMGUARD_REDIS_IDLE_CLOSE=0.3", "-s", "TDMGUARD_REDIS_WORKER_TTL=1.5"]
    return args


def decisions(dbs: list[Path]) -> list[tuple[Any, ...]]:
    rows = []
    for db in dbs:
        with sqlite3.connect(db) as conn:
            rows += conn.execute("SELECT url, allowed, stage, status, reasons, snapshots "
                                 "FROM decisions").fetchall()
    return sorted(rows)


def snapshots(dbs: list[Path]) -> set[tuple[Any, ...]]:
    out = set()
    for db in dbs:
        with sqlite3.connect(db) as conn:
            out |= set(conn.execute("SELECT sha256, kind, url, fetched_at "
                                    "FROM snapshot_fetches").fetchall())
    return out


PAGES = {f"http://news.example/p{i}" for i in range(FAST_PAGES) if i != 7} | \
    {f"http://slow.example/s{i}" for i in range(SLOW_PAGES)}


def crawl_alone(workers: Workers, tmp: Path) -> Iterator[tuple[list[Any], list[str]]]:
    """The same site crawled by one ordinary worker (no Redis), in the
    background: ``next()`` starts it, the second ``next()`` waits for it."""
    with build_web() as web:
        pid, err = workers.start(crawl_args(tmp / "single.db", None, ""), web)
        yield [], []
        assert workers.wait(pid) == 0, err.read_text()[-2000:]
        yield decisions([tmp / "single.db"]), web.requested()


def crawl_with_four(redis_url: str, workers: Workers, tmp: Path) -> dict[str, Any]:
    dbs = [tmp / f"worker{n}.db" for n in range(4)]
    with build_web() as web:
        pids = [workers.start(crawl_args(db, redis_url, "four"), web) for db in dbs]
        codes = [workers.wait(pid) for pid, _ in pids]
        log = list(web.log)
    errors = [err.read_text()[-1500:] for _, err in pids]
    return {"dbs": dbs, "codes": codes, "log": log, "errors": errors, "dir": tmp}


def test_workers_on_redis_crawl_as_one_polite_crawler_with_one_set_of_evidence(
        redis_url: str, workers: Workers, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Four workers crawl the site while one worker alone crawls it too; then
    two workers, one killed mid-crawl, while another crawl is stopped and
    resumed. One test, so every worker process comes from one warm fork
    server."""
    alone = crawl_alone(workers, tmp_path_factory.mktemp("single"))
    next(alone)
    four = crawl_with_four(redis_url, workers, tmp_path_factory.mktemp("four"))
    site_sees_one_polite_crawler(four)
    resumed: list[BaseException | None] = []
    resume = threading.Thread(target=lambda: resumed.append(_failure(
        stopped_crawl_resumes, redis_url, workers, tmp_path_factory.mktemp("resume"))))
    resume.start()
    killed_worker_leaves_the_crawl_complete(redis_url, workers,
                                            tmp_path_factory.mktemp("kill"))
    resume.join()
    if resumed[0] is not None:
        raise resumed[0]
    ledgers_answer_as_one_worker(four, next(alone))
    merged_ledger_verifies_and_keeps_each_chain(four, tmp_path_factory.mktemp("merge"))


def site_sees_one_polite_crawler(four: dict[str, Any]) -> None:
    assert four["codes"] == [0, 0, 0, 0], four["errors"]
    urls = [r.url for r in four["log"]]
    # No page (and no rights document) fetched twice, every page fetched.
    assert [u for u, n in Counter(urls).items() if n > 1] == []
    assert {u for u in urls if "/p" in u or "/s" in u} >= PAGES
    # Nothing disallowed was ever requested.
    assert [u for u in urls if "/private/" in u or u.endswith("/nope")] == []
    # Each robots.txt (and each location-level document) once for the whole crawl.
    for origin in ("http://news.example", "http://slow.example"):
        for doc in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt"):
            assert urls.count(origin + doc) == 1, origin + doc
    # The Crawl-delay held across the four workers, as the site saw it: the
    # smallest gap between two requests to slow.example (not the mean), with
    # no allowance (turns are spaced by the delay plus SEND_MARGIN on Redis's
    # clock, which covers each worker's own latency before sending). Without
    # sharing, four workers would each keep the delay alone: gaps of a few ms.
    times = sorted(r.at for r in four["log"] if "slow.example" in r.url)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == SLOW_PAGES + 3
    assert min(gaps) >= CRAWL_DELAY, gaps
    # (How the work splits between workers depends on when each process got
    # going: on a loaded machine the first one can take every page before the
    # others start, so no share is asserted; the SIGKILL test shows another
    # worker finishing what one left.)


def ledgers_answer_as_one_worker(four: dict[str, Any],
                                 reference: tuple[list[Any], list[str]]) -> None:
    single, single_urls = reference
    # The same decisions. (One worker alone fetches its seed twice, once as a
    # start request and once as a link back to it: start requests skip
    # Scrapy's dupe filter. The workers filter start requests too, since each
    # seeds the same URLs, so they fetch it once.)
    assert sorted(set(decisions(four["dbs"]))) == sorted(set(single))
    assert set(single_urls) == {r.url for r in four["log"]}
    # Every worker recorded the very same snapshot of each shared document:
    # same bytes (sha256) and the one fetch time.
    seen: dict[str, set[tuple[Any, ...]]] = {}
    for sha, _kind, url, fetched_at in snapshots(four["dbs"]):
        seen.setdefault(url, set()).add((sha, fetched_at))
    assert seen and all(len(v) == 1 for v in seen.values()), seen
    # verify and evidence read the worker ledgers together (a directory).
    proc = run_cli(["verify", "--db", str(four["dir"])])
    assert proc.returncode == 0, proc.output
    proc = run_cli(["evidence", "http://news.example/p7", "--db", str(four["dir"]),
                    "--format", "json"])
    assert proc.returncode == 0, proc.output
    records = json.loads(proc.stdout)["records"]
    assert len(records) == 1 and records[0]["allowed"] is False


def killed_worker_leaves_the_crawl_complete(redis_url: str, workers: Workers,
                                            tmp_path: Path) -> None:
    dbs = [tmp_path / "a.db", tmp_path / "b.db"]
    with build_web() as web:
        a, _ = workers.start(crawl_args(dbs[0], redis_url, "kill", seeds=SEEDS[:1]), web)
        b, _ = workers.start(crawl_args(dbs[1], redis_url, "kill", seeds=SEEDS[:1]), web)
        deadline = time.monotonic() + 20
        while sum("/p" in u for u in web.requested()) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(b, signal.SIGKILL)
        assert workers.wait(b) == -signal.SIGKILL
        assert workers.wait(a) == 0
        urls = web.requested()
    # The survivor finished the crawl: every page was fetched (the killed
    # worker's unfinished requests went back to the queue), nothing disallowed.
    assert {u for u in urls if "/p" in u} >= {p for p in PAGES if "news." in p}
    assert [u for u in urls if "/private/" in u] == []
    client = redis.Redis.from_url(redis_url)
    assert client.zcard("kill:requests") == 0
    assert client.smembers("kill:workers") == set()


def _failure(check: Any, *args: Any) -> BaseException | None:
    try:
        check(*args)
    except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
        return exc
    return None


def stopped_crawl_resumes(redis_url: str, workers: Workers, tmp_path: Path) -> None:
    """A worker stopped with Ctrl-C (SIGINT) leaves the queue; a worker started
    later finishes the crawl, fetching nothing twice."""
    news = {p for p in PAGES if "news." in p}
    client = redis.Redis.from_url(redis_url)
    # A worker died while fetching robots.txt for everyone: its lock is taken
    # over once that worker's heartbeat has lapsed (it never had one here).
    client.set("resume:doc:robots.txt:http://news.example/robots.txt:lock", "gone:1:x|y",
               px=60_000)
    with build_web() as web:
        first, _ = workers.start(crawl_args(tmp_path / "1.db", redis_url, "resume",
                                            seeds=SEEDS[:1]), web)
        deadline = time.monotonic() + 20
        while sum("/p" in u for u in web.requested()) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(first, signal.SIGINT)
        assert workers.wait(first) == 130  # interrupted
        queued = client.zrange("resume:requests", 0, -1)
        assert queued and all(json.loads(e)["url"].startswith("http://news.example/")
                              for e in queued)  # JSON, never pickle
        assert not news <= set(web.requested())
        second, err = workers.start(crawl_args(tmp_path / "2.db", redis_url, "resume",
                                               seeds=SEEDS[:1]), web)
        assert workers.wait(second) == 0, err.read_text()[-1500:]
        urls = web.requested()
    assert [u for u, n in Counter(urls).items() if n > 1] == []
    assert news <= set(urls)
    assert client.zcard("resume:requests") == 0  # the last worker to finish cleared it


def test_the_queue_holds_json_and_refuses_what_is_not_a_plain_request() -> None:
    from scrapy import Request

    from tdmguard.middlewares.redis_codec import decode_request, encode_request
    from tdmguard.middlewares.vocab import REASONS_META, Reason

    req = Request("http://news.example/p1", method="POST", body=b"\x00\xff",
                  headers={"X-A": "1"}, priority=3,
                  meta={REASONS_META: [Reason("robots.txt", "permitted", "r", "s", "d")],
                        "redirect_urls": ["http://news.example/a"], "depth": 2})
    text = encode_request(req, None)
    data = json.loads(text)  # plain JSON: no pickle
    assert data["url"] == req.url and data["body"] == {"$b": "AP8="}
    back = decode_request(text, None)
    assert (back.url, back.method, back.body, back.priority) == (req.url, "POST", b"\x00\xff", 3)
    assert back.meta == req.meta and back.headers.get("X-A") == b"1"
    # What a user may queue by hand (ZADD key 0 '{"url": ...}'): a plain GET.
    assert decode_request('{"url": "http://news.example/p9"}', None).url == \
        "http://news.example/p9"
    for hostile in ({"url": "http://x/", "_class": "os.system"},
                    {"url": "http://x/", "_class": "scrapy.utils.misc.load_object"},
                    {"url": "http://x/", "callback": "_private"},
                    {"no": "url"}):
        with pytest.raises(ValueError):
            decode_request(json.dumps(hostile), None)


def merged_ledger_verifies_and_keeps_each_chain(four: dict[str, Any], tmp_path: Path) -> None:
    from tdmguard.crawler.ledger_merge_cli import check_sources

    out = tmp_path / "all.db"
    proc = run_cli(["ledger", "merge", str(out), str(four["dir"])])
    assert proc.returncode == 0, proc.output
    assert decisions([out]) == decisions(four["dbs"])
    proc = run_cli(["verify", "--db", str(out)])
    assert proc.returncode == 0, proc.output
    with sqlite3.connect(out) as conn:
        assert [r["ok"] for r in check_sources(conn)] == [True] * 4
    # An edit after the merge breaks the merged chain and the worker's own.
    with sqlite3.connect(out) as conn:
        conn.execute("UPDATE decisions SET allowed = 1 - allowed WHERE id = "
                     "(SELECT max(id) FROM decisions)")
    proc = run_cli(["verify", "--db", str(out)])
    assert proc.returncode == 1
    with sqlite3.connect(out) as conn:
        assert [r["ok"] for r in check_sources(conn)].count(False) == 1
    assert run_cli(["ledger", "merge", str(out), str(four["dir"])]).returncode == 2


def test_turns_are_granted_at_least_the_delay_apart_on_the_servers_clock(
        redis_url: str) -> None:
    """Four clients race for one origin's turns: the grants, timed by Redis
    itself, are never closer than the delay (the minimum, exactly)."""
    from tdmguard.middlewares.redis_politeness import GATE

    # Until twelve grants (0.6 s unloaded), however long a loaded machine
    # takes: a count in a fixed window would measure the machine, not the gate.
    delay_us, grants, stop = 50_000, [], time.monotonic() + 30
    keys = [f"gate-test:{part}" for part in ("last", "leases", "hold")]

    def client(n: int) -> None:
        gate = redis.Redis.from_url(redis_url).register_script(GATE)
        while len(grants) < 12 and time.monotonic() < stop:
            granted, value = gate(keys=keys, args=[delay_us, 0, 5000, f"w{n}|{time.time()}",
                                                   "gate-test:worker:", 1000])
            if granted:
                grants.append(int(value))
            else:
                time.sleep(int(value) / 1000)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grants.sort()
    gaps = [b - a for a, b in zip(grants, grants[1:], strict=False)]
    assert len(grants) >= 8 and min(gaps) >= delay_us, gaps


def test_an_origins_concurrency_is_shared_and_a_dead_workers_slot_comes_back(
        redis_url: str) -> None:
    from tdmguard.middlewares.redis_politeness import GATE

    client = redis.Redis.from_url(redis_url)
    gate = client.register_script(GATE)
    client.set("lease-test:worker:alive", "busy", px=10_000)

    def take(keys: list[str], holder: str) -> bool:
        granted, _ = gate(keys=keys, args=[0, 2, 60_000, f"{holder}|{time.time()}",
                                           "lease-test:worker:", 300])
        return bool(granted)

    live = [f"lease-test:live:{p}" for p in ("last", "leases", "hold")]
    dead = [f"lease-test:dead:{p}" for p in ("last", "leases", "hold")]
    assert [take(live, "alive"), take(live, "alive"), take(live, "other")] == [True, True, False]
    assert [take(dead, "gone"), take(dead, "gone"), take(dead, "other")] == [True, True, False]
    time.sleep(0.35)  # past the dead worker's heartbeat lifetime (0.3 s)
    assert take(live, "other") is False  # a live worker keeps its slots
    assert take(dead, "other") is True  # the dead one's came back
    # A Retry-After hold one worker saw holds the origin for every worker.
    from tdmguard.middlewares.redis_politeness import HOLD

    held = [f"lease-test:held:{p}" for p in ("last", "leases", "hold")]
    client.register_script(HOLD)(keys=[held[2]], args=[5000])
    granted, wait_ms = gate(keys=held, args=[0, 0, 60_000, "w|1", "lease-test:worker:", 300])
    assert not granted and 4000 < int(wait_ms) <= 5000


def test_ledger_merge_keeps_id_blocks_apart_when_a_source_shares_every_document(
        tmp_path: Path) -> None:
    """A source whose documents were all merged already (shared through Redis)
    adds no snapshot row; the next source's rows must not land in its block."""
    from tdmguard.crawler.ledger_merge_cli import check_sources, merge
    from tdmguard.middlewares.ledger import Ledger, open_existing, verify
    from tdmguard.middlewares.snapshots import Snapshot
    from tdmguard.middlewares.vocab import Decision

    def write(name: str, bodies: list[bytes]) -> Path:
        path = tmp_path / name
        ledger = Ledger(str(path))
        ledger.start_crawl(started_at="2026-12-06T10:00:00Z", user_agent="ScaleBot/1",
                           tokens=["ScaleBot"], mode="strict", purpose="train-ai",
                           settings={}, blocklists=[], psl_version="x")
        shas = {}
        for body in bodies:
            snap = Snapshot("robots.txt", "http://a.example/robots.txt", "http://a.example",
                            "2026-12-06T10:00:01Z", 200, {}, body)
            ledger.add_snapshot(snap)
            shas[body] = snap.sha256
        for i, body in enumerate(bodies):
            ledger.add(Decision(f"http://a.example/{name}/{i}", True, [],
                                "2026-12-06T10:00:02Z", origin="http://a.example",
                                snapshots={"robots.txt": shas[body]}))
        ledger.finish_crawl("2026-12-06T10:00:03Z")
        ledger.close()
        return path

    sources = [write("a", [b"one"]), write("b", [b"one"]), write("c", [b"two", b"one"])]
    out = tmp_path / "all.db"
    merge(str(out), [str(p) for p in sources])
    db = open_existing(str(out))
    assert verify(db)[:2] == (True, 4)
    assert [r["ok"] for r in check_sources(db.conn)] == [True, True, True]
    db.close()
