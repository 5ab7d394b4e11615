"""A multi-host web on 127.0.0.1, reached as an HTTP proxy.

Scrapy (or anything honouring ``http_proxy``) asks the proxy for
``http://news.example/robots.txt`` and gets the page written for that host:
many origins, real HTTP, no DNS, no internet. Every request is logged, so a
test can prove a disallowed page was never requested.

A resource may answer with any status and headers, redirect, stall (for
timeouts) or drop the connection (a network error). A host that is not in the
web answers 502, as a proxy that cannot resolve it would.

Hostile servers, at the socket level (all off by default)::

    web.add(url, body, cut_at=20)                  # Content-Length, 20 bytes, then RST
    web.add(url, body, cut_at=20, length=False)    # close-delimited, 20 bytes, then RST
    web.add(url, body, length=False)               # close-delimited, whole, clean close
    web.add(url, body, chunked=True, cut_at=20)    # chunked, RST in the middle of a chunk
    web.add(url, body, trickle=10)                 # 10 bytes per second
    web.add(url, body, hang=30)                    # headers, then 30 s of silence
    web.add(url, raw=b"SSH-2.0-OpenSSH_9.6\r\n")     # these bytes as the answer, then close
    web.add(url, body, then=[Resource(503), Resource(200, body)])  # 200, 503, 200
    web.add(url, gzip_bomb, headers={"Content-Encoding": "gzip"}, chunked=True)

    web = FixtureWeb()
    web.add("http://news.example/robots.txt", "User-agent: *\\nDisallow: /private/\\n")
    with web:                     # serves until the block ends
        ...  # http_proxy=web.proxy_url
        assert "http://news.example/private/x" not in web.requested()

Signed requests (Web Bot Auth): given the key directory a crawler publishes,
the web verifies each request's RFC 9421 signature as an origin would
(:mod:`tdmguard.crawler.fixtureweb_signatures`) and logs the verdict
(``LoggedRequest.signature``: ``valid``, ``missing`` or ``invalid: why``)::

    web.verify_signatures(json.loads(directory_file.read_text()),
                          agent="https://crawler.example")
"""

from __future__ import annotations

import math
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tdmguard.crawler.fixtureweb_signatures import directory_keys, verify_signature

HOST = "127.0.0.1"  # never any other address


@dataclass(slots=True)
class Resource:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (longer than DOWNLOAD_TIMEOUT = a timeout).
    delay: float = 0.0
    #: Close the connection without answering (a network error).
    drop: bool = False
    #: Send only this many body bytes, then reset the connection (RST,
    #: SO_LINGER 0) as a crashing server or a middlebox would.
    cut_at: int | None = None
    #: Announce Content-Length (False: a close-delimited body, ``Connection: close``).
    length: bool = True
    #: Send the body with ``Transfer-Encoding: chunked`` (chunks of ``chunk_size``);
    #: with ``cut_at``, the reset comes in the middle of a chunk.
    chunked: bool = False
    chunk_size: int = 64
    #: Send the body at this many bytes per second (0: at once).
    trickle: float = 0.0
    #: Seconds of silence after the headers, before the body.
    hang: float = 0.0
    #: Send these bytes as the whole answer (status line and headers
    #: included), then close: a server that does not speak HTTP, or speaks
    #: it wrongly (conflicting Content-Length, a bad chunk size).
    raw: bytes | None = None
    #: Answers to the 2nd, 3rd, ... request of this URL (the last one repeats):
    #: ``then=[Resource(503), Resource(200, body)]`` = 200, then 503, then 200.
    then: list[Resource] = field(default_factory=list)
    served: int = 0


@dataclass(slots=True)
class LoggedRequest:
    method: str
    url: str
    headers: dict[str, str]
    at: float
    #: The signature verdict (:func:`.fixtureweb_signatures.verify_signature`); None
    #: when not verifying.
    signature: str | None = None


def _key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    netloc = parts.netloc.lower()
    if netloc.endswith(":80") and parts.scheme == "http":
        netloc = netloc[:-3]
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return netloc, path


def _wire(res: Resource) -> tuple[bytes, int]:
    """The body as sent on the wire, and where to stop (``cut_at`` body bytes)."""
    body = res.body
    if not res.chunked:
        return body, len(body) if res.cut_at is None else min(res.cut_at, len(body))
    out, stop = bytearray(), None
    for i in range(0, len(body), max(1, res.chunk_size)):
        chunk = body[i:i + res.chunk_size]
        out += f"{len(chunk):x}\r\n".encode()
        if res.cut_at is not None and stop is None and i + len(chunk) > res.cut_at:
            stop = len(out) + (res.cut_at - i)  # inside this chunk's data
        out += chunk + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out), len(out) if stop is None else stop


class _Server(ThreadingHTTPServer):
    # A crawler opens dozens of connections at once; the stdlib default
    # backlog of 5 drops the rest's handshakes, and each then waits for a
    # TCP retransmission (a stall no real web server would show).
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler that is stopped or killed hangs up mid-answer: normal for
        # this web, not worth a traceback. Anything else is still printed.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class FixtureWeb:
    """The web: ``{netloc: {path: Resource}}``, served by a threaded proxy."""

    def __init__(self) -> None:
        self.sites: dict[str, dict[str, Resource]] = {}
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._signature_keys: dict[str, Any] | None = None
        self._signature_agent: str | None = None

    # -- content --------------------------------------------------------------

    def add(self, url: str, body: bytes | str = b"", status: int = 200,
            headers: dict[str, str] | None = None, **kwargs: Any) -> Resource:
        """Serve *body* at *url* (``http://host[:port]/path``)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(headers or {})
        if status == 200 and body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = (
                "text/plain; charset=utf-8" if url.endswith(".txt") else "text/html; charset=utf-8"
            )
        resource = Resource(status=status, body=body, headers=headers, **kwargs)
        netloc, path = _key(url)
        self.sites.setdefault(netloc, {})[path] = resource
        return resource

    def redirect(self, url: str, to: str, status: int = 301) -> Resource:
        return self.add(url, b"", status=status, headers={"Location": to})

    def verify_signatures(self, directory: dict[str, Any], agent: str | None = None) -> None:
        """Verify every request's Web Bot Auth signature against the keys of
        *directory* (a JWK Set); with *agent*, its Signature-Agent must name it."""
        self._signature_keys = directory_keys(directory)
        self._signature_agent = agent

    def add_host(self, origin: str) -> None:
        """Make *origin* exist even with no resources (everything 404s)."""
        self.sites.setdefault(_key(origin)[0], {})

    # -- log ------------------------------------------------------------------

    def requested(self) -> list[str]:
        with self._lock:
            return [r.url for r in self.log]

    def requests_to(self, netloc: str) -> list[LoggedRequest]:
        netloc = netloc.lower()
        with self._lock:
            return [r for r in self.log if _key(r.url)[0] == netloc]

    def count(self, url: str) -> int:
        return self.requested().count(url)

    # -- serving --------------------------------------------------------------

    @property
    def proxy_url(self) -> str:
        assert self._server is not None, "start() the web first"
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> FixtureWeb:
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                target = self.path
                if not target.startswith(("http://", "https://")):
                    target = f"http://{self.headers.get('Host', '')}{target}"
                verdict = None if web._signature_keys is None else verify_signature(
                    self.command, target, self.headers.items(), web._signature_keys,
                    web._signature_agent)
                with web._lock:
                    web.log.append(LoggedRequest(self.command, target,
                                                 dict(self.headers.items()), time.time(),
                                                 verdict))
                netloc, path = _key(target)
                site = web.sites.get(netloc)
                if site is None:
                    res = Resource(502, b"unknown host", {"Content-Type": "text/plain"})
                else:
                    res = site.get(path) or Resource(404, b"not found",
                                                     {"Content-Type": "text/plain"})
                if res.then:
                    with web._lock:
                        res.served += 1
                        res = ([res, *res.then])[min(res.served, len(res.then) + 1) - 1]
                if res.delay:
                    time.sleep(res.delay)
                if res.raw is not None:
                    self.close_connection = True
                    self.wfile.write(res.raw)
                    self.wfile.flush()
                    return
                if res.drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                self.send_response(res.status)
                for name, value in res.headers.items():
                    self.send_header(name, value)
                if res.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                elif res.length:
                    self.send_header("Content-Length", str(len(res.body)))
                else:  # close-delimited (RFC 9112 §6.3, last case)
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if head:
                    return
                if res.hang and not web._pause(res.hang):
                    return
                stream, stop = _wire(res)
                self._send(stream[:stop], res.trickle)
                if res.cut_at is not None:
                    time.sleep(0.1)  # let the client read what was sent, then die
                    self._reset()

            def _send(self, data: bytes, rate: float) -> None:
                if not rate:
                    self.wfile.write(data)
                    return
                step = max(1, math.ceil(rate / 10))  # ten writes a second
                for i in range(0, len(data), step):
                    self.wfile.write(data[i:i + step])
                    if not web._pause(step / rate):
                        return

            def _reset(self) -> None:
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                except OSError:
                    pass

        self._server = _Server((HOST, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def _pause(self, seconds: float) -> bool:
        """Sleep *seconds*, or less if the web stops (then False)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self._server is None:
                return False
            time.sleep(min(left, 0.05))
        return self._server is not None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FixtureWeb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
