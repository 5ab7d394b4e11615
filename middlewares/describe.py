"""What a crawl honoured, in words, from the registry and its recorded settings.

Pure (no Scrapy or Twisted import). Used by ``tdmguard summary`` (the public
summary's behaviour text and section 3.1), and meant for the copyright-policy
document and the crawler disclosure: all of them read the protocol registry
and each crawl's recorded settings (the ledger's ``crawls.settings``), never a
copy.
"""

from __future__ import annotations

from tdmguard.middlewares.registry import (
    LOCATION,
    OPT_OUT,
    PROTOCOLS,
    REQUEST,
    RESPONSE,
    ROBOTSTXT_SWITCH,
    Protocol,
    Read,
    Settings,
    active_reads,
    switch_on,
)

#: What each mode means, in one clause.
MODE_TEXT = {
    "strict": "each spec's own rules, and every reservation seen anywhere holds",
    "rfc": "each spec followed literally",
}


def line(protocol: Protocol, reads: list[Read]) -> str:
    """One line naming *protocol* and where it was read."""
    return f"{protocol.title}: {'; '.join(r.what for r in reads)}"


def _reads_in_all(protocol: Protocol, crawls: list[Settings]) -> list[Read]:
    reads = list(protocol.reads)
    for settings in crawls or [{}]:
        on = active_reads(protocol, settings)
        reads = [r for r in reads if r in on]
    return reads


def honoured(crawls: list[Settings], kind: str = OPT_OUT) -> list[str]:
    """One line per protocol of *kind* that every crawl (its recorded
    settings; an unrecorded switch counts as on) had on, with the places
    it was read in all of them."""
    out = []
    for p in PROTOCOLS:
        if p.kind == kind:
            reads = _reads_in_all(p, crawls)
            if reads:
                out.append(line(p, reads))
    return out


def switched_off(crawls: list[Settings]) -> list[str]:
    """One line for each protocol some crawl had off, or read in fewer places
    than it can be read (a parent switch off), naming the switches."""
    out = []
    for p in PROTOCOLS:
        for settings in crawls or [{}]:
            reads = active_reads(p, settings)
            if len(reads) < len(p.reads):
                off = ", ".join(dict.fromkeys(
                    s for s in (p.switch, *(x for r in p.reads for x in r.parents))
                    if not switch_on(settings, s)))
                if not reads:
                    out.append(f"{p.name} ({off} off)")
                else:
                    missed = "; ".join(r.what for r in p.reads if r not in reads)
                    out.append(f"{p.name} not read from {missed} ({off} off)")
                break
    return out


def extra_noai_directives(settings: Settings) -> list[str]:
    """``TDMGUARD_NOAI_EXTRA_DIRECTIVES`` as recorded (a list or a
    comma-separated string), lower-cased."""
    name = "TDMGUARD_NOAI_EXTRA_DIRECTIVES"
    value = (settings(name, False) if callable(settings) else settings.get(name)) or []
    items = value.split(",") if isinstance(value, str) else value
    return [str(v).strip().lower() for v in items if str(v).strip()]


def behaviour(tokens: list[str], crawls: list[tuple[str, Settings]]) -> str:
    """The crawler-behaviour text of the public summary, generated from each
    crawl's mode and recorded settings: what was honoured in which mode, what
    fails closed, what was switched off."""
    names = ", ".join(tokens) or "(none)"
    parts = [(f"Identifies itself with the product token(s) {names} in every "
              "User-Agent header and never sends credentials.")]
    groups: dict[tuple[str, tuple[str, ...]], list[Settings]] = {}
    for mode, settings in crawls or [("strict", {})]:
        key = (mode or "strict", tuple(line(p, active_reads(p, settings))
                                       for p in PROTOCOLS if active_reads(p, settings)))
        groups.setdefault(key, []).append(settings)
    for (mode, _), members in groups.items():
        settings = members[0]
        on = [p for p in PROTOCOLS if active_reads(p, settings)]
        text = []
        if len(groups) > 1:
            text.append(f"In {len(members)} of {len(crawls)} crawls:")
        if ROBOTSTXT_SWITCH in {p.switch for p in on}:
            text.append("Reads robots.txt before any other request to an origin and follows "
                        "it as RFC 9309 specifies (complete disallow when it is unreachable, "
                        "re-read at least every 24 hours).")
        else:
            text.append(f"Does not read robots.txt ({ROBOTSTXT_SWITCH} was off).")
        before = [p.name for p in on if any(r.stage in (REQUEST, LOCATION)
                                            and mode in r.decides_in
                                            for r in active_reads(p, settings))]
        after = [p.name for p in on if any(r.stage == RESPONSE
                                           for r in active_reads(p, settings))]
        text.append(f"In {mode} mode ({MODE_TEXT.get(mode, mode)}) it honours "
                    f"{', '.join(p.name for p in on) or 'no protocol'}"
                    + (f"; {', '.join(before)} refuse a page before it is requested"
                       if before else "")
                    + (f"; {', '.join(after)} drop a downloaded page before any use"
                       if after else "") + ".")
        extra = extra_noai_directives(settings)
        if extra and any(p.switch == "TDMGUARD_NOAI_ENABLED" for p in on):
            text.append(f"It also reads the robots directive(s) {', '.join(extra)} as a "
                        "reservation (TDMGUARD_NOAI_EXTRA_DIRECTIVES).")
        closed = [p.fails_closed for p in on if p.fails_closed and mode in p.fails_closed_in]
        if closed:
            text.append("Fails closed (refuses) when: " + "; ".join(closed) + ".")
        off = switched_off([settings])
        if off:
            text.append("Switched off: " + ", ".join(off) + ".")
        parts.append(" ".join(text))
    return " ".join(parts)
