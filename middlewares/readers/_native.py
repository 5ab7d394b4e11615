"""The native C2PA read, in a child process under a memory and a time bound.

c2pa-python reads a manifest with c2pa-rs, native code that trusts the
lengths it reads. Fuzzing found a 3,620-byte PNG whose damaged manifest holds
a CBOR text string declaring 2,181,758,329 bytes; reading it made the whole
crawler allocate 2.1 GB (fuzz/RUNS.md, Findings; the input is
``tests/data/readers/c2pa-cbor-length-bomb.png``). Rust aborts the process
when an allocation fails, and a native hang would hold the reactor, so the
read runs in one long-lived child process (``python -m`` this module: no
``fork`` of a threaded crawler, no ``__main__`` re-import) whose address space
is capped with ``RLIMIT_AS``. The child answers with JSON only (no pickle
from the process that reads hostile bytes). When it overruns either bound, or
dies, the read is unreadable with the cause, and the next read starts a new
child.

Protocol: the parent writes one JSON line ``{"mime": ..., "size": n}`` and
*n* bytes; the child answers one JSON line ``{"store": <manifest JSON text or
null>, "state": ..., "error": ...}``.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any

#: Address space the child may map, in bytes. A normal read needs about 50 MB
#: (Python, c2pa-rs, the asset and its store).
MEMORY_LIMIT = 512 * 2**20
#: Seconds one read may take, start of a new child included. The read holds
#: the reactor (responses are checked synchronously), so this is also how
#: long one hostile image can stall a crawl; a normal read takes about 1 ms,
#: a 60 MB asset 0.4 s, starting the child 0.15 s.
TIME_LIMIT = 10.0
_ANSWER_LIMIT = 64 * 2**20  # a manifest store's JSON is far smaller


class NativeReadError(Exception):
    """The child could not answer: it overran a bound or died."""


class _Worker:
    def __init__(self, memory_limit: int) -> None:
        self.pid = os.getpid()  # a forked copy of the parent starts its own
        self.memory_limit = memory_limit
        self.proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(memory_limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
        )
        import fcntl  # POSIX, like RLIMIT_AS: imported where used

        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)

    def stderr_tail(self) -> str:
        try:
            data = self.proc.stderr.read() if self.proc.stderr else b""
        except OSError:
            data = b""
        text = (data or b"").decode("utf-8", "replace").strip().splitlines()
        return text[-1][:200] if text else ""

    def ask(self, mime: str | None, data: bytes, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        header = json.dumps({"mime": mime, "size": len(data)}).encode() + b"\n"
        try:
            self.proc.stdin.write(header + data)
            self.proc.stdin.flush()
        except OSError as exc:
            raise NativeReadError(
                self._death(f"could not be sent the asset ({exc})")) from exc
        fd, answer = self.proc.stdout.fileno(), bytearray()
        poller = select.poll()  # not select(): a crawler's descriptors pass 1024
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while not answer.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                self.kill()
                raise NativeReadError(f"took longer than its {timeout:g} s bound")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise NativeReadError(self._death("ended without an answer"))
            answer += chunk
            if len(answer) > _ANSWER_LIMIT:
                self.kill()
                raise NativeReadError("answered more than 64 MiB")
        self.stderr_tail()  # drain, so a chatty library never fills the pipe
        try:
            result = json.loads(answer)
        except ValueError:
            result = None
        if not isinstance(result, dict):
            raise NativeReadError("answered something other than a JSON object")
        return result

    def _death(self, what: str) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        tail = self.stderr_tail()
        if code is not None and code < 0:
            try:
                cause = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                cause = f"was killed by signal {-code}"
        else:
            cause = f"exited with status {code}"
        limit = f"{self.memory_limit // 2**20} MiB"
        return (f"{what}: it {cause} (memory bound {limit})"
                + (f": {tail}" if tail else ""))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.proc.poll() is None


_lock = threading.Lock()
_worker: _Worker | None = None


def _close() -> None:
    global _worker
    if _worker is not None and _worker.pid == os.getpid():
        _worker.kill()
    _worker = None


atexit.register(_close)


def read_store(
    data: bytes,
    mime: str | None,
    memory_limit: int = MEMORY_LIMIT,
    time_limit: float = TIME_LIMIT,
) -> tuple[str | None, str | None, str]:
    """``(manifest store JSON text or None, validation state, error)``.

    Raises :class:`NativeReadError` when the child overran a bound or died.
    """
    global _worker
    with _lock:
        if _worker is None or not _worker.alive() or _worker.memory_limit != memory_limit:
            if _worker is not None and _worker.pid == os.getpid():
                _worker.kill()
            _worker = _Worker(memory_limit)
        worker = _worker
        try:
            result = worker.ask(mime, data, time_limit)
        except BaseException:
            # Whatever broke the exchange (a bound, a death, a garbled answer,
            # KeyboardInterrupt), the child may still owe an answer: never
            # reuse it, or the next read would get this one's.
            if _worker is worker:
                worker.kill()
                _worker = None
            raise
    store, state, error = result.get("store"), result.get("state"), result.get("error")
    return (
        store if isinstance(store, str) else None,
        state if isinstance(state, str) else None,
        error if isinstance(error, str) else "",
    )


# -- the child ------------------------------------------------------------------


def _read_one(mime: str | None, data: bytes, context: Any) -> dict[str, Any]:
    import io

    import c2pa

    try:
        reader = c2pa.Reader.try_create(mime or None, io.BytesIO(data), None, context)
        if reader is None:
            return {"store": None, "state": None, "error": ""}
        with reader:
            return {"store": reader.json(), "state": reader.get_validation_state(),
                    "error": ""}
    except Exception as exc:  # C2paError and friends: a broken manifest
        return {"store": None, "state": None,
                "error": f"{type(exc).__name__}: {exc}"[:200]}


def _serve(memory_limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    failure = ""
    try:
        import c2pa

        context = c2pa.Context.from_dict(
            {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
    except Exception as exc:
        context, failure = None, f"c2pa-python could not start: {type(exc).__name__}: {exc}"
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        line = inp.readline()
        if not line:
            return
        job = json.loads(line)
        data = inp.read(int(job["size"]))
        if context is None:
            answer = {"store": None, "state": None, "error": failure[:200]}
        else:
            try:
                answer = _read_one(job.get("mime"), data, context)
            except MemoryError:
                answer = {"store": None, "state": None,
                          "error": f"out of its {memory_limit // 2**20} MiB memory bound"}
        out.write(json.dumps(answer).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
