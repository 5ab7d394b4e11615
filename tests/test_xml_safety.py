"""XML is read without external entities or entity expansion (issue 14, item 7).

Every reader that parses XML (RSL licences, fetched or inline; XMP packets in
JPEG, PNG, WebP, PDF and raw assets; EPUB ``container.xml`` and OPF) gets the
classic attacks: an external entity naming a local file or a loopback URL
(XXE), an external DTD, a parameter entity, billion laughs and quadratic
blowup, and XInclude. Each must leave the secret unread, the loopback server
unasked, finish at once, and fail closed: ``unreadable`` with a reason saying
why. The same documents without the attack are read normally, so the verdict
comes from the refusal, not from something else being broken.

defusedxml with ``forbid_dtd=True`` refuses any DOCTYPE (RSL, EPUB); an XMP
packet is cut from ``<x:xmpmeta`` to its end tag, so a DOCTYPE before it is
never parsed and an entity reference inside it is undefined (a parse error).
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tdmguard.crawler.fixtureweb import FixtureWeb
from tdmguard.middlewares.readers import htmlhead, rsl, tdmrep
from tdmguard.middlewares.readers.assets import read_asset
from tdmguard.middlewares.vocab import RESERVED, UNREADABLE, Reason

from .conftest import check_json
from .test_readers_assets import jpeg, pdf, png, webp
from .test_readers_common import verdict

SECRET = "tdmguard-xxe-canary-7f3a"
RSL_NS = "https://rslstandard.org/rsl"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
PROHIBITED = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FixtureWeb]]:
    """A local file holding :data:`SECRET`, and a loopback server logging every request."""
    secret = tmp_path_factory.mktemp("xxe") / "secret.txt"
    secret.write_text(SECRET)
    with FixtureWeb() as web:
        web.add_host(web.proxy_url)
        yield secret, web


def attacks(secret: Path, web: FixtureWeb) -> dict[str, tuple[str, str]]:
    """Each attack as (DOCTYPE, what goes where the value would be)."""
    url = web.proxy_url
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return {
        "xxe-file": (f'<!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}">]>', "&x;"),
        "xxe-http": (f'<!DOCTYPE r [<!ENTITY x SYSTEM "{url}/xxe-entity">]>', "&x;"),
        "external-dtd": (f'<!DOCTYPE r SYSTEM "{url}/xxe-dtd">', "x"),
        "parameter-entity": (
            f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/xxe-param"> %p;]>', "x"),
        "billion-laughs": (f'<!DOCTYPE r [<!ENTITY l0 "lol">{lol}]>', "&l9;"),
        "quadratic-blowup": (
            f'<!DOCTYPE r [<!ENTITY a "{"a" * 20_000}">]>', "&a;" * 10_000),
    }


ATTACKS = ["xxe-file", "xxe-http", "external-dtd", "parameter-entity", "billion-laughs",
           "quadratic-blowup"]


# -- documents, each (doctype, value) -> (bytes, how to read it) -------------------------

def rsl_licence(doctype: str, value: str) -> bytes:
    return (f'<?xml version="1.0"?>{doctype}<rsl xmlns="{RSL_NS}"><content url="/">'
            f'<license><prohibits type="usage">ai-train</prohibits>'
            f"<payment type=\"free\">{value}</payment></license></content></rsl>").encode()


def read_rsl(body: bytes) -> list[Reason]:
    return rsl.RslDocument.parse(body, 200, "http://x.example/l.xml").evaluate(
        "http://x.example/a")


def read_inline_rsl(body: bytes) -> list[Reason]:
    page = (b'<html><head><script type="application/rsl+xml">' + body
            + b"</script></head><body></body></html>")
    [doc] = rsl.inline_documents(htmlhead.scan(page), "http://x.example/a")
    return doc.evaluate("http://x.example/a")


def xmp_packet(doctype: str, value: str) -> bytes:
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{doctype}'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
            f'<rdf:Description rdf:about="" xmlns:plus="{PLUS}">'
            f"<plus:DataMining>{PROHIBITED}</plus:DataMining><plus:Note>{value}</plus:Note>"
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def _epub(container_xml: str, opf_xml: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", container_xml)
        archive.writestr("OEBPS/content.opf", opf_xml)
    return out.getvalue()


def _container(doctype: str = "", value: str = "") -> str:
    return (f'<?xml version="1.0"?>{doctype}<container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" '
            f'media-type="application/oebps-package+xml">{value}</rootfile></rootfiles>'
            "</container>")


def _opf(doctype: str = "", value: str = "") -> str:
    return (f'<?xml version="1.0"?>{doctype}<package xmlns="http://www.idpf.org/2007/opf" '
            'version="3.0" prefix="tdm: http://www.w3.org/ns/tdmrep#"><metadata '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>T</dc:title>'
            f'<meta property="tdm:reservation">1</meta><meta name="x">{value}</meta>'
            "</metadata></package>")


def opf(doctype: str, value: str) -> bytes:
    return _epub(_container(), _opf(doctype, value))


def container(doctype: str, value: str) -> bytes:
    return _epub(_container(doctype, value), _opf())


def asset_reader(wrap: Callable[[bytes], bytes], ctype: str | None = None
                 ) -> Callable[[bytes], list[Reason]]:
    def read(packet: bytes) -> list[Reason]:
        # As the response check does: embedded metadata's own reasons, and
        # TDMRep statements (EPUB OPF, PDF XMP) resolved with the others.
        asset = read_asset(wrap(packet), ctype)
        return asset.reasons() + tdmrep.resolve("http://x.example/a", embedded=asset.tdm)

    return read


#: reader -> (document builder, reader, the protocol that must say unreadable)
READERS: dict[str, tuple[Callable[[str, str], bytes], Callable[[bytes], list[Reason]], str]] = {
    "rsl-licence": (rsl_licence, read_rsl, "rsl"),
    "rsl-inline-script": (rsl_licence, read_inline_rsl, "rsl"),
    "xmp-jpeg": (xmp_packet, asset_reader(jpeg), "iptc"),
    "xmp-png": (xmp_packet, asset_reader(png), "iptc"),
    "xmp-png-compressed": (xmp_packet, asset_reader(lambda p: png(p, compressed=True)), "iptc"),
    "xmp-webp": (xmp_packet, asset_reader(webp), "iptc"),
    "xmp-pdf": (xmp_packet, asset_reader(pdf), "iptc"),
    "xmp-pdf-flate": (xmp_packet, asset_reader(lambda p: pdf(p, flate=True)), "iptc"),
    "xmp-raw": (xmp_packet, asset_reader(lambda p: p, "image/svg+xml"), "iptc"),
    "epub-opf": (opf, asset_reader(lambda b: b, "application/epub+zip"), "tdmrep"),
    "epub-container": (container, asset_reader(lambda b: b, "application/epub+zip"), "tdmrep"),
}


@pytest.mark.parametrize("reader", READERS)
def test_the_document_without_an_attack_is_read(reader: str) -> None:
    build, read, _ = READERS[reader]
    reasons = read(build("", "x"))
    assert verdict(reasons) == RESERVED, reasons  # each document reserves train-ai


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("reader", READERS)
def test_no_external_entity_and_no_expansion(reader: str, attack: str,
                                            probe: tuple[Path, FixtureWeb]) -> None:
    secret, web = probe
    build, read, protocol = READERS[reader]
    doctype, value = attacks(secret, web)[attack]
    body = build(doctype, value)
    started = time.perf_counter()
    reasons = read(body)
    took = time.perf_counter() - started
    assert took < 1.0, f"{reader}/{attack} took {took:.2f} s: expanded?"
    assert [u for u in web.requested() if "/xxe-" in u] == []
    if protocol == "iptc" and "&" not in value:
        # The XMP packet starts at <x:xmpmeta: a DOCTYPE before it is never
        # parsed (nothing fetched), and with no entity used the packet reads.
        assert verdict(reasons) == RESERVED, reasons
        return
    assert verdict(reasons) == UNREADABLE, reasons
    [unreadable] = [r for r in reasons if r.verdict == UNREADABLE]
    assert unreadable.protocol == protocol
    said = unreadable.rule + unreadable.detail
    assert SECRET not in " ".join(r.rule + r.detail + r.source for r in reasons)
    if protocol != "iptc":
        # defusedxml refused the DOCTYPE: the reason names the refusal.
        assert "DTDForbidden" in said and "no entity expansion" in said, said
    else:
        # Any entity the unparsed DOCTYPE declared is undefined in the packet.
        assert "unreadable XMP" in said and "undefined entity" in said, said


@pytest.mark.parametrize("reader", ["rsl-licence", "epub-opf", "xmp-png"])
def test_xinclude_is_not_processed(reader: str, probe: tuple[Path, FixtureWeb]) -> None:
    secret, web = probe
    build, read, _ = READERS[reader]
    value = (f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" parse="text" '
             f'href="{secret.as_uri()}"/><xi:include xmlns:xi="http://www.w3.org/2001/'
             f'XInclude" href="{web.proxy_url}/xxe-xinclude"/>')
    reasons = read(build("", value))
    assert SECRET not in " ".join(r.rule + r.detail for r in reasons)
    assert verdict(reasons) == RESERVED  # an unknown element, nothing included
    assert [u for u in web.requested() if "/xxe-" in u] == []


def test_over_real_sockets_each_xml_attack_refuses_without_a_request(
        web: FixtureWeb, tmp_path: Path) -> None:
    """One ``check`` of three sites: an XXE RSL licence named by robots.txt, a
    PNG whose XMP holds billion laughs and an EPUB whose OPF has an external
    DTD. Nothing is fetched for the entities, and every page is refused."""
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    attack = attacks(secret, web)
    web.add("http://rsl.example/robots.txt",
            "User-agent: *\nAllow: /\nLicense: http://rsl.example/license.xml\n")
    web.add("http://rsl.example/license.xml", rsl_licence(*attack["xxe-http"]),
            headers={"Content-Type": "application/rsl+xml"})
    web.add("http://rsl.example/a", "<html><head></head><body>a</body></html>")
    web.add("http://png.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://png.example/i.png", png(xmp_packet(*attack["billion-laughs"])),
            headers={"Content-Type": "image/png"})
    web.add("http://epub.example/robots.txt", "User-agent: *\nAllow: /\n")
    web.add("http://epub.example/b.epub", opf(*attack["external-dtd"]),
            headers={"Content-Type": "application/epub+zip"})
    urls = ["http://rsl.example/a", "http://png.example/i.png", "http://epub.example/b.epub"]
    rows = {r["url"]: r for r in check_json(web, urls, "--user-agent", "TestBot")}
    expected = {urls[0]: ("refused", "rsl"), urls[1]: ("dropped", "iptc"),
                urls[2]: ("dropped", "tdmrep")}
    for url, (stage, protocol) in expected.items():
        row = rows[url]
        assert row["allowed"] is False and row["stage"] == stage, row
        assert protocol in [r["protocol"] for r in row["reasons"]
                            if r["verdict"] == UNREADABLE], row["reasons"]
    assert [u for u in web.requested() if "/xxe-" in u] == []
    assert urls[0] not in web.requested()  # refused before the download


@pytest.mark.parametrize("encoding", ["Shift_JIS", "EUC-KR", "GB18030", "UTF-16"])
def test_a_licence_in_another_declared_encoding_is_read_and_still_refuses_a_doctype(
        encoding: str, probe: tuple[Path, FixtureWeb]) -> None:
    # pyexpat reads only UTF-8, UTF-16 and single-byte encodings; a licence
    # declaring another is decoded by Python first, and still gets no DTD.
    secret, web = probe
    declared = f'<?xml version="1.0" encoding="{encoding}"?>'
    plain = rsl_licence("", "無料").replace(b'<?xml version="1.0"?>', declared.encode())
    assert verdict(read_rsl(plain.decode().encode(encoding))) == RESERVED
    attack = rsl_licence(*attacks(secret, web)["xxe-file"]).replace(
        b'<?xml version="1.0"?>', declared.encode())
    reasons = read_rsl(attack.decode().encode(encoding))
    assert verdict(reasons) == UNREADABLE
    assert "DTDForbidden" in reasons[0].rule, reasons
    assert SECRET not in reasons[0].rule + reasons[0].detail
