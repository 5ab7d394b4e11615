"""Fill ``fuzz/corpus/<target>/`` with seeds: the real-web files (robots.txt,
tdmrep.json, HTML heads, blocklists; tests/data/real-web is their byte-exact
copy of ../shared/real-web) and small hand-made documents for the formats the
real web folder lacks (RSL licences, assets, reservations, tdmguard.toml).

Seeds are named ``seed-<name>`` so they stay apart from what libFuzzer adds
(its files are named by their SHA-1). Re-running replaces the seeds only.

    python fuzz/seed.py
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL = ROOT / "tests" / "data" / "real-web"
READERS = ROOT / "tests" / "data" / "readers"
CORPUS = HERE / "corpus"

ROBOTS_TARGETS = ("robots", "aitxt", "content-usage", "content-signal", "disallow-ai-training")
PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def xmp(body: str) -> bytes:
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
            f'<rdf:Description rdf:about="" xmlns:plus="{PLUS}" '
            f'xmlns:tdm="http://www.w3.org/ns/tdmrep/">{body}</rdf:Description>'
            '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


PACKET = xmp("<plus:DataMining>http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"
             "</plus:DataMining><tdm:reservation>1</tdm:reservation>")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(packet: bytes, compressed: bool = False) -> bytes:
    text = zlib.compress(packet) if compressed else packet
    flag = b"\x01\x00" if compressed else b"\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + _chunk(b"iTXt", b"XML:com.adobe.xmp\x00" + flag + b"\x00\x00" + text)
            + _chunk(b"IEND", b""))


def jpeg(packet: bytes) -> bytes:
    app1 = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    return (b"\xff\xd8\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
            + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 8 + b"\xff\xd9")


def webp(packet: bytes) -> bytes:
    chunks = b"XMP " + struct.pack("<I", len(packet)) + packet + b"\x00" * (len(packet) % 2)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def pdf(packet: bytes) -> bytes:
    stream = zlib.compress(packet)
    return (b"%PDF-1.7\n1 0 obj << /Metadata 2 0 R >> endobj\n2 0 obj << /Type /Metadata "
            b"/Filter /FlateDecode /Length " + str(len(stream)).encode() + b" >>\nstream\n"
            + stream + b"\nendstream\nendobj\n%%EOF\n")


def epub() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", (
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:'
            'opendocument:xmlns:container"><rootfiles><rootfile full-path="c.opf"/>'
            "</rootfiles></container>"))
        archive.writestr("c.opf", (
            '<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata>'
            '<meta property="tdm:reservation">1</meta><meta name="tdm:policy" '
            'content="https://p.example/"/></metadata></package>'))
    return out.getvalue()


RSL = (b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/" server="https://s.example/">'
       b'<license><permits type="usage">search ai-input</permits><prohibits type="usage">'
       b'ai-train</prohibits><permits type="user">commercial</permits><payment type="'
       b'subscription"/></license></content><content url="/open/*$"><license><payment '
       b'type="free"/></license></content></rsl>')

HTML = (b'<!doctype html><html><head><meta charset="utf-8"><title>t</title>'
        b'<meta name="robots" content="noai, noimageai">'
        b'<meta name="TestBot" content="DisallowAITraining">'
        b'<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://p/">'
        b'<link rel="license" type="application/rsl+xml" href="/l.xml">'
        b'<script type="application/rsl+xml">' + RSL + b"</script></head><body>x</body></html>")

RESERVATIONS = b"\n".join(json.dumps(line).encode() for line in [
    {"pattern": "example.com", "kind": "domain", "complaint": "TDMC-2026-000001",
     "added": "2026-12-01T00:00:00Z", "withdrawn": None},
    {"pattern": "https://example.com/path/", "kind": "url-prefix",
     "complaint": "TDMC-2026-000002", "added": "2026-12-01T00:00:00Z", "withdrawn": None},
    {"pattern": "example.com", "kind": "domain", "complaint": "TDMC-2026-000001",
     "added": "2026-12-01T00:00:00Z", "withdrawn": "2026-12-02T00:00:00Z"},
]) + b"\n"

CONFIG = b"""[organisation]
name = "Fuzz Lab"
website = "https://fuzz.example/"

[[crawlers]]
tokens = ["FuzzBot", "FuzzBot-Image"]
user_agent = "FuzzBot/1.0 (+https://fuzz.example/bot)"
info_url = "https://fuzz.example/bot"
ip_ranges = ["192.0.2.0/24", "2001:db8::/32"]
purpose = "train-ai"
data_use = "training"

[crawlers.settings]
TDMGUARD_MODE = "rfc"

[settings]
TDMGUARD_DOCUMENT_TIMEOUT = 10
TDMGUARD_BLOCKLISTS = ["lists/a.txt"]
TDMGUARD_ROBOTSTXT_MAX_BYTES = 600000

[complaints]
contact_email = "rights@fuzz.example"
acknowledge_days = 7
"""


def seeds() -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {t: {} for t in (
        *ROBOTS_TARGETS, "tdmrep", "rsl", "htmlhead-noai", "assets", "c2pa", "blocklist",
        "reservations", "config")}
    for path in sorted((REAL / "robots").glob("*.txt")):
        for target in ROBOTS_TARGETS:
            out[target][path.name] = path.read_bytes()
    out["aitxt"]["ai.txt"] = (READERS / "ai.txt").read_bytes()
    for folder in ("well-known", "html", "headers"):
        for path in sorted((REAL / "tdmrep" / folder).iterdir()):
            out["tdmrep"][path.name] = path.read_bytes()
    for path in sorted((REAL / "tdmrep" / "html").iterdir()):
        out["htmlhead-noai"][path.name] = path.read_bytes()
        out["disallow-ai-training"][path.name] = path.read_bytes()
    out["htmlhead-noai"]["handmade.html"] = HTML
    for path in sorted(READERS.glob("rsl-*.xml")):
        out["rsl"][path.name] = path.read_bytes()
    out["rsl"]["handmade.xml"] = RSL
    out["rsl"]["inline.html"] = HTML
    out["rsl"]["robots-license.txt"] = b"User-agent: *\nAllow: /\nLicense: /l.xml\n"
    out["assets"].update({"xmp.png": png(PACKET), "xmpz.png": png(PACKET, True),
                          "xmp.jpg": jpeg(PACKET), "xmp.webp": webp(PACKET),
                          "xmp.pdf": pdf(PACKET), "tdm.epub": epub(), "raw.xmp": PACKET})
    for path in sorted(READERS.glob("c2pa-*.png")):
        out["c2pa"][path.name] = path.read_bytes()
        out["assets"][path.name] = path.read_bytes()
    try:
        sys.path.insert(0, str(ROOT.parent))
        from tdmguard.middlewares.readers.c2pa_manifest import read_manifest_store

        for path in sorted(READERS.glob("c2pa-*.png")):
            store, _state, _error = read_manifest_store(path.read_bytes(), "image/png")
            if store is not None:
                out["c2pa"][path.stem + ".json"] = json.dumps(store).encode()
    except Exception as exc:  # the JSON seeds are a bonus
        print(f"no C2PA JSON seeds: {exc}", file=sys.stderr)
    for path in sorted((ROOT / "tests" / "data" / "blocklists").glob("*.txt")):
        out["blocklist"][path.name] = path.read_bytes()
    domains = (REAL / "blocklist" / "official-domains.tsv").read_text("utf-8").splitlines()[1:]
    out["blocklist"]["official.txt"] = (
        "# name: official\n# kind: advisory\n# edition: 2025\n# source: real-web\n"
        + "".join(line.split("\t")[0] + "  # " + line.split("\t")[1] + "\n"
                  for line in domains)).encode()
    out["reservations"]["reservations.jsonl"] = RESERVATIONS
    out["config"]["tdmguard.toml"] = CONFIG
    for example in sorted((ROOT / "crawler" / "data" / "demo").glob("*.toml")):
        out["config"][f"demo-{example.name}"] = example.read_bytes()
    return out


def main() -> None:
    for target, files in seeds().items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):
            old.unlink()
        for name, data in files.items():
            (folder / f"seed-{name}").write_bytes(data)
        print(f"{target}: {len(files)} seeds")


if __name__ == "__main__":
    main()
