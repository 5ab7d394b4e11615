"""datadiligence's own test suite, ported: its inputs through our readers.

Peer: Spawning's ``datadiligence`` (github ``Spawning-Inc/datadiligence``,
``tests/`` at commit ``ea09739`` of 2024-10-09; the installed 0.1.7 has the
same ``rules/``, ``evaluators/``, ``bootstrap.py`` and ``utils.py``). Every
case keeps its origin (``file::method``), the exact input, datadiligence's
expected ``is_allowed`` as ``theirs`` and our expected verdict, in the default
``strict`` mode and in ``rfc`` mode. ``test_ours_*`` runs our pure readers;
``test_theirs_*`` runs datadiligence itself offline (its URL fetcher is
replaced by one that fails the test) and asserts its documented answer, so
each difference shows concretely. It needs the ``bench`` extra
(datadiligence); without it those tests skip.

Mapping: datadiligence answers one boolean. ``allowed=True`` corresponds to
our ``permitted`` or ``unavailable`` (nothing reserves), ``allowed=False`` to
``reserved`` (or ``unreadable``, which fails closed).
:func:`test_differences_are_the_documented_ones` pins every case where the
two disagree.

Ported (all offline; their Flask server's response headers, from
``tests/server/app.py``, are rebuilt as ``requests.Response`` and as
``http.client.HTTPResponse`` objects, the two shapes their tests use):

- ``test_xrobots_header.py``: every ``_eval_header_value`` case
  (``test_noheader``, ``test_noai``, ``test_ai``, ``test_useragent_noai``,
  ``test_useragent_ai``, ``test_malformed_headers``), the ``/ai``, ``/noai``,
  ``/user_agents``, ``/user_agents_noai``, ``/noindex`` responses
  (``test_stdlib``, ``test_requests_lib``, ``test_useragent_requests``,
  ``test_parse_useragents``, ``test_noindex``, and ``test_url_arg``'s inputs),
  ``test_exceptions``.
- ``test_tdmrep_header.py``: every ``_eval_header_value`` case, the
  ``/tdmrep`` and ``/blocktdmrep`` responses, ``test_exceptions``.
- ``test_evaluators.py::test_http_evaluator`` and ``test_default_eval_args``,
  ``test_bootstrapper.py::test_is_allowed`` / ``test_filter_allowed``: the
  header evaluations (``HttpEvaluator``, ``dd.is_allowed(response=/headers=)``)
  on ``/noai`` and ``/ai``. Ours: noai and TDMRep readers combined.

Differences (``theirs`` vs ours; who is right, per
the protocol reference, ``shared/reference/protocols.md``):

- ``/noindex`` (``X-Robots-Tag: none, noindex``) with
  ``respect_noindex=True``: theirs ``False``, ours ``unavailable`` in both
  modes. §5 vector N5: ``X-Robots-Tag: noindex`` is "UNKNOWN for training"
  (an indexing directive, not a usage reservation). Ours is right by default;
  their switch is an operator policy, which ours expresses as
  ``extra_directives`` (:func:`test_noindex_opt_in_equivalent`).
- ``X-Robots-Tag: noimageai`` (and ``spawningbot: noimageai`` for
  ``spawningbot``) with no content type: theirs ``False``; ours ``reserved``
  in strict mode (agrees) but ``unavailable`` in rfc mode, where ``noimageai``
  speaks about images and the response is not one. §5 N2/N3: RESERVED on an
  image, "text: conservative RESERVED, log". Both readings are allowed by
  the source; the default (strict) agrees with theirs.

No case of their suite is one where our answer is wrong per the spec: there is
no ``xfail`` here.

Not ported, and why:

- HTML ``<meta>``, ``/.well-known/tdmrep.json`` and ``/ai.txt``: their suite
  has no such case, because datadiligence implements none of them (its rules
  are X-Robots-Tag, the TDMRep *header*, C2PA and the Spawning API; §4:
  "datadiligence also implements X-Robots-Tag noai/noimageai, TDMRep header
  and C2PA, but **not** ai.txt").
- ``test_spawningapi.py`` (all), the ``urls=`` / ``filter_allowed`` parts of
  ``test_evaluators.py`` and ``test_bootstrapper.py``: the Spawning "Do Not
  Train" API, a network service with an API key; no reader of ours.
- ``test_utils.py``: ``get_url`` fetches ``www.google.com``.
- ``is_allowed(url=...)`` (``test_url_arg``, ``test_noindex``,
  ``test_default_eval_args``): their rules fetch the URL. The same headers are
  ported as response cases.
- ``test_cp2a.py`` and the ``path=sample_c2pa.png`` parts of
  ``test_evaluators.py`` / ``test_bootstrapper.py``: C2PA is outside this port
  (headers, HTML, TDMRep, ai.txt); three of its files are downloaded from
  c2pa.org and its 110 KB fixture is not in this repository. Our C2PA reader
  has its own vectors (M7-M10) in ``test_readers_assets.py``.
- Registry plumbing with no verdict: custom evaluators and rules
  (``tests/samples/custom.py``: ``CustomRule``, ``NotReadyRule``), evaluator
  registration, ``HttpEvaluator(respect_robots=False, respect_tdmrep=False)``
  having no rules, ``get_header_value_from_response(None)`` (we take headers,
  not response objects).
"""

from __future__ import annotations

import http.client
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tdmguard.middlewares.readers import tdmrep
from tdmguard.middlewares.readers._common import header_values
from tdmguard.middlewares.readers.noai import noai_reasons
from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    RFC,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
)

from .test_readers_common import assert_reasons, verdict

SERVER = "http://localhost:5001"  # their Flask test server; never contacted here
BOT = "spawningbot"
XRT = "tests/test_xrobots_header.py::XRobotsTest"
TDM = "tests/test_tdmrep_header.py::TDMRepTest"
EVA = "tests/test_evaluators.py::EvaluatorTests"
BOOT = "tests/test_bootstrapper.py::BootstrapTests"


def agrees(theirs: bool, ours: str) -> bool:
    """datadiligence's boolean and our verdict say the same thing."""
    return (ours in (RESERVED, UNREADABLE)) is (not theirs)


# -- header-value cases (their ``_eval_header_value``) -------------------------------


@dataclass(frozen=True)
class ValueCase:
    origin: str
    rule: str  # "xrobots" (XRobotsTagHeader) or "tdmrep" (TDMRepHeader)
    value: str | None  # the header value; None: what their None stands for, no header
    ua: str | None  # XRobotsTagHeader(user_agent=...); our product tokens
    theirs: bool
    ours: str  # strict (default)
    ours_rfc: str

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.origin.rsplit('.', 1)[1]}-{self.ua or 'no-ua'}-{self.value!r}"


def _xrt(method: str, rows: list[tuple[str | None, str, str]], ua: str | None, theirs: bool):
    return [ValueCase(f"{XRT}.{method}", "xrobots", v, ua, theirs, s, r) for v, s, r in rows]


R, U, P = RESERVED, UNAVAILABLE, PERMITTED
_NOAI = [("noai", R, R), ("noimageai", R, U), ("other, noai", R, R)]
_AI = [("other", U, U), ("noindex", U, U), ("other, noindex", U, U)]
_UA_NOAI = [
    "spawningbot: noai",
    "spawningbot: noimageai",
    "other, spawningbot: noai",
    "other, spawningbot:noai",
    "spawningbot:other, spawningbot: noai",
    "spawningbot:other, spawningbot:noai",
]
_UA_AI = [
    "spawningbot: all",
    "spawningbot: other",
    "other, spawningbot: all",
    "spawningbot: other, spawningbot: all, test:noai",
]

VALUE_CASES = [
    # test_noheader: rule (spawningbot) and rule_2 (no user agent)
    *_xrt("test_noheader", [("", U, U), (None, U, U)], BOT, True),
    *_xrt("test_noheader", [("", U, U), (None, U, U)], None, True),
    # test_noai
    *_xrt("test_noai", _NOAI, BOT, False),
    *_xrt("test_noai", _NOAI, None, False),
    # test_ai
    *_xrt("test_ai", _AI, BOT, True),
    *_xrt("test_ai", _AI, None, True),
    # test_useragent_noai: scoped to us reserves; without a user agent it does not
    *_xrt(
        "test_useragent_noai",
        [(v, R, U if "noimageai" in v else R) for v in _UA_NOAI],
        BOT,
        False,
    ),
    *_xrt("test_useragent_noai", [(v, U, U) for v in _UA_NOAI], None, True),
    # test_useragent_ai
    *_xrt("test_useragent_ai", [(v, U, U) for v in _UA_AI], BOT, True),
    *_xrt("test_useragent_ai", [(v, U, U) for v in _UA_AI], None, True),
    # test_malformed_headers
    *_xrt("test_malformed_headers", [(":,", U, U), (":, :, ,;: -:: ", U, U)], BOT, True),
    # TDMRepHeader: test_noheader, test_tdm_block
    ValueCase(f"{TDM}.test_noheader", "tdmrep", "", None, True, U, U),
    ValueCase(f"{TDM}.test_noheader", "tdmrep", None, None, True, U, U),
    ValueCase(f"{TDM}.test_tdm_block", "tdmrep", "1", None, False, R, R),
    ValueCase(f"{TDM}.test_tdm_block", "tdmrep", "0", None, True, P, P),
    ValueCase(f"{TDM}.test_tdm_block", "tdmrep", "other", None, True, U, U),
]

_HEADER = {"xrobots": "X-Robots-Tag", "tdmrep": "tdm-reservation"}


def _value_headers(case: ValueCase) -> dict[str, str]:
    return {} if case.value is None else {_HEADER[case.rule]: case.value}


def ours_xrobots(headers: Any, ua: str | None, mode: str, **kw: Any) -> str:
    tokens = (ua,) if ua else ()
    return verdict(noai_reasons(headers, None, tokens, None, TRAIN_AI, mode, **kw))


def ours_tdmrep(headers: Any, mode: str, path: str = "/") -> str:
    return verdict(tdmrep.resolve(SERVER + path, None, headers, None, (), TRAIN_AI, mode))


def ours_http(headers: Any, ua: str | None, mode: str, path: str = "/") -> str:
    """Their HttpEvaluator / postprocess evaluator: X-Robots-Tag and TDMRep header."""
    tokens = (ua,) if ua else ()
    reasons = assert_reasons(noai_reasons(headers, None, tokens, None, TRAIN_AI, mode))
    reasons += assert_reasons(
        tdmrep.resolve(SERVER + path, None, headers, None, (), TRAIN_AI, mode)
    )
    return verdict(reasons)


@pytest.mark.parametrize("case", VALUE_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("mode", [STRICT, RFC])
def test_ours_header_value(case: ValueCase, mode: str) -> None:
    expected = case.ours if mode == STRICT else case.ours_rfc
    headers = _value_headers(case)
    if case.rule == "xrobots":
        assert ours_xrobots(headers, case.ua, mode) == expected
    else:
        assert ours_tdmrep(headers, mode) == expected


# -- the peer, offline ---------------------------------------------------------------


@pytest.fixture
def dd(monkeypatch: pytest.MonkeyPatch) -> Any:
    """datadiligence, with its URL fetcher replaced by one that fails the test."""
    peer = pytest.importorskip("datadiligence")
    import datadiligence.rules.base as base

    def no_network(url: str, user_agent: str | None = None) -> None:
        raise AssertionError(f"datadiligence tried to fetch {url}")

    monkeypatch.setattr(base, "get_url", no_network)
    return peer


@pytest.mark.parametrize("case", VALUE_CASES, ids=lambda c: c.id)
def test_theirs_header_value(dd: Any, case: ValueCase) -> None:
    from datadiligence.rules import TDMRepHeader, XRobotsTagHeader

    rule = XRobotsTagHeader(user_agent=case.ua) if case.rule == "xrobots" else TDMRepHeader()
    assert rule._eval_header_value(case.value) is case.theirs  # their suite's own call
    headers = _value_headers(case)
    if headers:  # the public entry point; an empty dict means "no argument" to them
        assert rule.is_allowed(headers=headers) is case.theirs


# -- their Flask server's responses, rebuilt offline ---------------------------------

#: ``tests/server/app.py``: each GET route's headers, as Flask sends them.
ROUTES: dict[str, list[tuple[str, str]]] = {
    "/ai": [("X-Robots-Tag", "all")],
    "/noai": [("X-Robots-Tag", "noai")],
    "/user_agents": [("X-Robots-Tag", "demobot: noai, examplebot: noai, spawningbot: all")],
    "/user_agents_noai": [
        ("X-Robots-Tag", "demobot: noai, examplebot: noai, spawningbot: noai")
    ],
    "/noindex": [("X-Robots-Tag", "none, noindex")],
    "/tdmrep": [("tdm-reservation", "0")],
    "/blocktdmrep": [
        ("tdm-reservation", "1"),
        ("tdm-policy", "http://localhost/test/policy.json"),
    ],
}


class _Socket:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO(self.data)


def urllib_response(route: str) -> http.client.HTTPResponse:
    """What ``urllib.request.urlopen`` returns for *route*, without a socket."""
    lines = ["HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8"]
    lines += [f"{name}: {value}" for name, value in ROUTES[route]]
    lines += ["Content-Length: 0", "", ""]
    response = http.client.HTTPResponse(_Socket("\r\n".join(lines).encode("latin-1")))
    response.begin()
    return response


def requests_response(route: str) -> Any:
    """What ``requests.get`` returns for *route*, without a socket."""
    requests = pytest.importorskip("requests")
    response = requests.Response()
    response.status_code = 200
    response.url = SERVER + route
    response.headers = requests.structures.CaseInsensitiveDict(
        [("Content-Type", "text/html; charset=utf-8"), *ROUTES[route], ("Content-Length", "0")]
    )
    return response


#: Every shape their tests hand over headers in (and ``dict``).
SHAPES: dict[str, Callable[[str], Any]] = {
    "dict": lambda route: dict(ROUTES[route]),
    "requests-headers": lambda route: requests_response(route).headers,
    "urllib-HTTPMessage": lambda route: urllib_response(route).headers,
    "urllib-getheaders": lambda route: urllib_response(route).getheaders(),
}


@dataclass(frozen=True)
class RouteCase:
    origin: str
    peer: str  # xrobots | xrobots-noindex | tdmrep | http-evaluator | dd.is_allowed
    route: str
    theirs: bool
    ours: str  # strict (default)
    ours_rfc: str

    @property
    def id(self) -> str:
        return f"{self.peer}-{self.route}"


ROUTE_CASES = [
    RouteCase(f"{XRT}.test_stdlib / test_requests_lib / test_url_arg", "xrobots", "/noai",
              False, R, R),
    RouteCase(f"{XRT}.test_stdlib / test_requests_lib / test_url_arg", "xrobots", "/ai",
              True, U, U),
    RouteCase(f"{XRT}.test_useragent_requests / test_parse_useragents", "xrobots",
              "/user_agents", True, U, U),
    RouteCase(f"{XRT}.test_useragent_requests", "xrobots", "/user_agents_noai", False, R, R),
    RouteCase(f"{XRT}.test_noindex (respect_noindex=False)", "xrobots", "/noindex",
              True, U, U),
    RouteCase(f"{XRT}.test_noindex (respect_noindex=True)", "xrobots-noindex", "/noindex",
              False, U, U),
    RouteCase(f"{TDM}.test_stdlib / test_requests_lib / test_url_arg", "tdmrep", "/tdmrep",
              True, P, P),
    RouteCase(f"{TDM}.test_stdlib / test_requests_lib / test_url_arg", "tdmrep",
              "/blocktdmrep", False, R, R),
    RouteCase(f"{EVA}.test_http_evaluator", "http-evaluator", "/noai", False, R, R),
    RouteCase(f"{EVA}.test_http_evaluator", "http-evaluator", "/ai", True, U, U),
    RouteCase(f"{EVA}.test_default_eval_args; {BOOT}.test_is_allowed", "dd.is_allowed",
              "/noai", False, R, R),
    RouteCase(f"{EVA}.test_default_eval_args", "dd.is_allowed", "/ai", True, U, U),
]


def ours_route(case: RouteCase, headers: Any, mode: str) -> str:
    if case.peer in ("xrobots", "xrobots-noindex"):
        return ours_xrobots(headers, BOT, mode)
    if case.peer == "tdmrep":
        return ours_tdmrep(headers, mode, case.route)
    return ours_http(headers, None, mode, case.route)  # their evaluators' default: no UA


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", ROUTE_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("mode", [STRICT, RFC])
def test_ours_route(case: RouteCase, shape: str, mode: str) -> None:
    headers = SHAPES[shape](case.route)
    assert ours_route(case, headers, mode) == (case.ours if mode == STRICT else case.ours_rfc)
    # their get_header_value assertions: the value read back is the value sent
    for name, value in ROUTES[case.route]:
        assert header_values(headers, name) == [(name, value)]


def _peer(dd: Any, case: RouteCase) -> Any:
    from datadiligence.rules import TDMRepHeader, XRobotsTagHeader

    return {
        "xrobots": lambda: XRobotsTagHeader(user_agent=BOT),
        "xrobots-noindex": lambda: XRobotsTagHeader(user_agent=BOT, respect_noindex=True),
        "tdmrep": TDMRepHeader,
        "http-evaluator": dd.HttpEvaluator,
        "dd.is_allowed": lambda: dd,  # default "postprocess" evaluator, C2PA rule included
    }[case.peer]()


@pytest.mark.parametrize("library", ["requests", "urllib"])
@pytest.mark.parametrize("case", ROUTE_CASES, ids=lambda c: c.id)
def test_theirs_route(dd: Any, case: RouteCase, library: str) -> None:
    make = requests_response if library == "requests" else urllib_response
    peer = _peer(dd, case)
    assert peer.is_allowed(response=make(case.route)) is case.theirs
    assert peer.is_allowed(headers=make(case.route).headers) is case.theirs
    if case.peer in ("xrobots", "tdmrep"):  # their get_header_value checks
        name, value = ROUTES[case.route][0]
        assert peer.get_header_value_from_response(make(case.route), peer.HEADER_NAME) == value
        assert peer.get_header_value(make(case.route).headers, peer.HEADER_NAME) == value
        if library == "urllib":
            listed = make(case.route).getheaders()
            assert peer.get_header_value(listed, peer.HEADER_NAME) == value


def test_noindex_opt_in_equivalent() -> None:
    """Their ``respect_noindex=True`` is our operator mapping ``extra_directives``."""
    extra = {d: [TRAIN_AI] for d in ("noindex", "none", "noimageindex")}
    headers = dict(ROUTES["/noindex"])
    for mode in (STRICT, RFC):
        assert ours_xrobots(headers, BOT, mode) == UNAVAILABLE
        assert ours_xrobots(headers, BOT, mode, extra_directives=extra) == RESERVED


def test_noimageai_on_an_image_is_reserved_in_both_modes() -> None:
    """The rfc-mode difference on ``noimageai`` is only for non-image responses."""
    for value, tokens in (("noimageai", ()), ("spawningbot: noimageai", (BOT,))):
        for mode in (STRICT, RFC):
            reasons = noai_reasons({"X-Robots-Tag": value}, None, tokens, "image/png",
                                   TRAIN_AI, mode)
            assert verdict(reasons) == RESERVED


# -- no input at all (their test_exceptions) -----------------------------------------


def test_ours_no_input() -> None:
    """Where their rules raise, our readers answer: nothing reserves."""
    assert verdict(noai_reasons(None)) == UNAVAILABLE
    assert verdict(tdmrep.resolve(SERVER + "/")) == UNAVAILABLE
    assert header_values(None, "X-Robots-Tag") == []


def test_theirs_no_input(dd: Any) -> None:
    from datadiligence.exceptions import (
        HttpUnknownHeaderObject,
        HttpUnknownResponseObject,
        TDMRepNoParam,
        XRobotsTagNoParam,
    )
    from datadiligence.rules import TDMRepHeader, XRobotsTagHeader

    for rule, no_param in ((XRobotsTagHeader(user_agent=BOT), XRobotsTagNoParam),
                           (TDMRepHeader(), TDMRepNoParam)):
        with pytest.raises(no_param):
            rule.is_allowed(None, None)
        with pytest.raises(HttpUnknownHeaderObject):
            rule.get_header_value(None, None)
        with pytest.raises(HttpUnknownResponseObject):
            rule.get_header_value_from_response(None, None)


# -- the differences, pinned ---------------------------------------------------------

#: (case id, mode) where datadiligence's boolean and our verdict disagree.
DIFFERENCES = {
    ("xrobots-noindex-/noindex", STRICT),
    ("xrobots-noindex-/noindex", RFC),
    ("xrobots-test_noai-spawningbot-'noimageai'", RFC),
    ("xrobots-test_noai-no-ua-'noimageai'", RFC),
    ("xrobots-test_useragent_noai-spawningbot-'spawningbot: noimageai'", RFC),
}


def test_differences_are_the_documented_ones() -> None:
    found = {
        (case.id, mode)
        for case in [*VALUE_CASES, *ROUTE_CASES]
        for mode, ours in ((STRICT, case.ours), (RFC, case.ours_rfc))
        if not agrees(case.theirs, ours)
    }
    assert found == DIFFERENCES


def test_case_count() -> None:
    assert len(VALUE_CASES) == 43
    assert len(ROUTE_CASES) == 12


# -- beyond their suite: inputs where they allow and the spec reserves ---------------

BEYOND = [
    # (id, headers, ua, their is_allowed(headers=...), ours in strict mode)
    ("second-header-line-noai", [("X-Robots-Tag", "noindex"), ("X-Robots-Tag", "noai")],
     None, None, RESERVED),
    ("lower-case-header-name", [("x-robots-tag", "noai")], None, True, RESERVED),
    ("upper-case-directive", {"X-Robots-Tag": "NOAI"}, None, True, RESERVED),
    ("scope-carries-to-the-next-directive", {"X-Robots-Tag": "spawningbot: noai, noimageai"},
     "otherbot", False, UNAVAILABLE),
]


@pytest.mark.parametrize(("headers", "ua", "theirs", "ours"),
                         [pytest.param(*c[1:], id=c[0]) for c in BEYOND])
def test_beyond_their_suite(dd: Any, headers: Any, ua: str | None, theirs: bool | None,
                            ours: str) -> None:
    """Found by hand beside the port: header lines after the first, header
    names in any case and case-insensitive directives (noai convention, as
    X-Robots-Tag: names and directives are case-insensitive) reserve; a
    ``bot:`` scope covers the directives after it, so another bot's
    ``noimageai`` says nothing to us."""
    from http.client import HTTPMessage

    from datadiligence.rules import XRobotsTagHeader

    assert ours_xrobots(headers, ua, STRICT) == ours
    if theirs is None:  # two lines of one header: as urllib hands them over
        message = HTTPMessage()
        for name, value in headers:
            message[name] = value  # appends a line, as a response parser does
        assert ours_xrobots(message, ua, STRICT) == ours
        headers, theirs = message, True  # they read the first line only
    assert XRobotsTagHeader(user_agent=ua).is_allowed(headers=headers) is theirs
