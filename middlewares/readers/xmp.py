"""XMP packets: finding them in bytes and reading the rights properties.

Spec: ISO 16684-1 (XMP) packet framing; IPTC Photo Metadata Standard 2023.1
``plus:DataMining`` (namespace ``http://ns.useplus.org/ldf/xmp/1.0/``, any
prefix; attribute, element or ``rdf:resource`` forms); W3C TDMRep
``tdm:reservation`` / ``tdm:policy`` in XMP (namespaces
``http://www.w3.org/ns/tdmrep/`` and ``http://www.w3.org/ns/tdmrep#``).
XML is parsed with defusedxml (no DTDs, no entity expansion).

:func:`find_packets` scans raw bytes for ``<x:xmpmeta`` … ``</x:xmpmeta>``
(any prefix), else a bare ``<rdf:RDF`` … ``</rdf:RDF>``, in UTF-8 and in the
UTF-16 and UTF-32 encodings ISO 16684-1 also allows; a start without an end
is a truncated packet, reported as an error (fail closed upstream).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

from ._common import clip, parse_xml, xml_error

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
TDM_NS = ("http://www.w3.org/ns/tdmrep/", "http://www.w3.org/ns/tdmrep#")
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DATA_MINING = f"{{{PLUS_NS}}}DataMining"
_RESERVATION = {f"{{{ns}}}reservation" for ns in TDM_NS}
_POLICY = {f"{{{ns}}}policy" for ns in TDM_NS}
_RESOURCE = f"{{{RDF_NS}}}resource"
_START = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)xmpmeta[\s>/]")
_RDF_START = re.compile(rb"<rdf:RDF[\s>]")
#: Packets larger than this are not parsed (XMP packets are kilobytes).
MAX_PACKET = 8 * 1024 * 1024


@dataclass(slots=True)
class XmpRights:
    """Rights properties read from XMP packets."""

    #: ``(value, evidence)`` for each ``plus:DataMining``.
    data_mining: list[tuple[str, str]] = field(default_factory=list)
    #: ``(value, policy or None, evidence)`` for each ``tdm:reservation``.
    tdm: list[tuple[str, str | None, str]] = field(default_factory=list)
    packets: int = 0
    errors: list[str] = field(default_factory=list)


#: The wide encodings ISO 16684-1 (7.2) allows a packet besides UTF-8, with
#: their code unit size; a packet found in one is re-encoded as UTF-8.
_WIDE = (("utf-32-le", 4), ("utf-32-be", 4), ("utf-16-le", 2), ("utf-16-be", 2))


def find_packets(data: bytes, limit: int = 64) -> tuple[list[bytes], list[str]]:
    """XMP packets in *data* (at most *limit*), and framing errors.

    UTF-8 packets, and packets in UTF-16 or UTF-32 (either byte order), which
    are returned re-encoded as UTF-8 (a packet holds no XML declaration: it
    starts at its ``xmpmeta`` element).
    """
    packets, errors = _find_packets(data, limit)
    for codec, unit in _WIDE:
        if len(packets) >= limit:
            break
        at = -1
        for word in ("xmpmeta", "rdf:RDF"):
            found = data.find(word.encode(codec))
            if found >= 0 and (at < 0 or found < at):
                at = found
        if at < 0:
            continue
        # Decode from a little before the marker (the "<prefix:" part), on
        # the marker's code-unit alignment, up to the largest packet read.
        start = max(at - 256 * unit, at % unit)
        start -= (start - at) % unit
        window = data[start:start + (MAX_PACKET + 512) * unit]
        text = window.decode(codec, "replace")
        wide, wide_errors = _find_packets(text.encode("utf-8", "replace"),
                                          limit - len(packets))
        packets += wide
        errors += [f"{codec}: {e}" for e in wide_errors]
    return packets, errors


def mentions_xmp(data: bytes) -> bool:
    """Whether *data* may hold an XMP packet, in any encoding :func:`find_packets` reads."""
    return b"xmpmeta" in data or b"rdf:RDF" in data or any(
        "xmpmeta".encode(codec) in data for codec, _unit in _WIDE)


def _find_packets(data: bytes, limit: int) -> tuple[list[bytes], list[str]]:
    packets: list[bytes] = []
    errors: list[str] = []
    pos = 0
    while len(packets) < limit:
        match = _START.search(data, pos)
        if match is None:
            break
        end_tag = b"</" + match.group(1) + b"xmpmeta>"
        end = data.find(end_tag, match.end())
        if end < 0:
            errors.append(f"truncated XMP packet at byte {match.start()}")
            break
        packets.append(data[match.start() : end + len(end_tag)])
        pos = end + len(end_tag)
    if not packets and not errors:
        match = _RDF_START.search(data)
        if match is not None:
            end = data.find(b"</rdf:RDF>", match.end())
            if end < 0:
                errors.append(f"truncated XMP packet at byte {match.start()}")
            else:
                packets.append(data[match.start() : end + len(b"</rdf:RDF>")])
    return packets, errors


def _text(element: Any) -> str:
    value: str = (element.text or "").strip()
    if value:
        return value
    resource: str | None = element.get(_RESOURCE)
    if resource:
        return resource.strip()
    for child in element.iter():
        if child is not element and (child.text or "").strip():
            return cast(str, child.text).strip()
        if child is not element and child.get(_RESOURCE):
            return cast(str, child.get(_RESOURCE)).strip()
    return ""


def read_packet(packet: bytes, rights: XmpRights, where: str = "XMP") -> None:
    """Add the rights properties of one packet to *rights*; errors recorded."""
    rights.packets += 1
    if len(packet) > MAX_PACKET:
        rights.errors.append(f"{where}: packet larger than {MAX_PACKET} bytes")
        return
    try:
        root = parse_xml(packet)
    except Exception as exc:  # ParseError, defusedxml refusals
        rights.errors.append(f"{where}: unreadable XMP ({xml_error(exc)})")
        return
    policies: list[str] = []
    first = len(rights.tdm)
    for element in root.iter():
        for name, value in element.attrib.items():
            if name == _DATA_MINING:
                rights.data_mining.append(
                    (value.strip(), f'{where}: plus:DataMining="{clip(value, 160)}"')
                )
            elif name in _RESERVATION:
                rights.tdm.append(
                    (
                        value.strip(),
                        None,
                        f'{where}: tdm:reservation="{clip(value, 40)}"',
                    )
                )
            elif name in _POLICY and value.strip():
                policies.append(value.strip())
        if element.tag == _DATA_MINING:
            value = _text(element)
            rights.data_mining.append(
                (value, f"{where}: <plus:DataMining>{clip(value, 160)}")
            )
        elif element.tag in _RESERVATION:
            value = _text(element)
            rights.tdm.append(
                (value, None, f"{where}: <tdm:reservation>{clip(value, 40)}")
            )
        elif element.tag in _POLICY and _text(element):
            policies.append(_text(element))
    if policies:
        rights.tdm[first:] = [
            (v, p or policies[0], e) for v, p, e in rights.tdm[first:]
        ]


def read_xmp(data: bytes, where: str = "XMP") -> XmpRights:
    """Find and read every packet in raw *data*."""
    rights = XmpRights()
    packets, errors = find_packets(data)
    rights.errors += [f"{where}: {e}" for e in errors]
    for packet in packets:
        read_packet(packet, rights, where)
    return rights
