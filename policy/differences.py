"""Each semantic difference between two policy states, in one readable line.

The change log of ``policy render``, the entries of the disclosure's Atom
feed and ``policy check`` all name what changed between two
:func:`tdmguard.policy.state.facts` dicts through :func:`differences`: one
branch for each kind of fact (crawler identities, protocols, what each
protocol reads, blocklists and their editions), so a rewording of a template
is never a change and a changed setting always is.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["differences"]


def _by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(item.get(key)): item for item in items}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    return json.dumps(value, sort_keys=True)


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per semantic difference from *old* to *new* (empty: the same)."""
    out: list[str] = []
    _diff("", old, new, out)
    return out


#: Keys derived from others (said once, where they come from).
_DERIVED = ("known_urls", "rfc9309_compliance", "mode_text", "switched_off")
_LABELS = {
    "complaints.acknowledge_days": "complaints are acknowledged within {new} days (was {old})",
    "complaints.decide_days": "complaints are decided within {new} days (was {old})",
}


def _diff(where: str, old: Any, new: Any, out: list[str]) -> None:
    if old == new or where.rsplit(".", 1)[-1] in _DERIVED:
        return
    if where in _LABELS:
        out.append(_LABELS[where].format(old=old, new=new))
        return
    if where.endswith("crawlers") and isinstance(old, list) and isinstance(new, list):
        a, b = _by(old, "name"), _by(new, "name")
        for name in a:
            if name not in b:
                out.append(f"crawler {name} removed")
        for name in b:
            if name not in a:
                out.append(f"crawler {name} added ({b[name].get('purpose')}, tokens "
                           f"{', '.join(b[name].get('tokens', []))})")
            else:
                _diff(f"crawler {name}", a[name], b[name], out)
        return
    if where.endswith(".protocols") and isinstance(old, list):
        a, b = _by(old, "name"), _by(new, "name")
        who = where.rsplit(".", 1)[0]
        for name in a:
            if name not in b:
                out.append(f"{who}: {name} no longer honoured ({a[name].get('switch')} off)")
        for name in b:
            if name not in a:
                out.append(f"{who}: {name} now honoured")
            else:
                _diff(f"{who}: {name}", a[name], b[name], out)
        return
    if where.endswith(".reads") and isinstance(old, list) and isinstance(new, list):
        who = where.rsplit(".", 1)[0]
        a, b = _by(old, "what"), _by(new, "what")
        for what in a:
            if what not in b:
                out.append(f"{who} no longer read from {what}")
        for what in b:
            if what not in a:
                out.append(f"{who} now read from {what}")
            elif a[what] != b[what]:
                out.append(f"{who} ({what}) now decided {b[what].get('decides')}")
        return
    if where.endswith("blocklists.lists") and isinstance(old, list):
        a, b = _by(old, "name"), _by(new, "name")
        who = where.rsplit(".", 2)[0]
        for name in a:
            if name not in b:
                out.append(f"{who}: blocklist {name} removed")
        for name in b:
            if name not in a:
                out.append(f"{who}: blocklist {name} added (edition "
                           f"{b[name].get('edition')})")
            elif a[name].get("edition") != b[name].get("edition"):
                out.append(f"{who}: blocklist {name} edition {a[name].get('edition')!r} -> "
                           f"{b[name].get('edition')!r}")
            elif a[name] != b[name]:
                out.append(f"{who}: blocklist {name} changed ({a[name].get('entries')} -> "
                           f"{b[name].get('entries')} entries, sha256 "
                           f"{str(b[name].get('sha256'))[:12]})")
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in dict.fromkeys([*old, *new]):
            sub = f"{where}.{key}" if where else key
            if key not in old:
                out.append(f"{sub} added: {_show(new[key])}")
            elif key not in new:
                out.append(f"{sub} removed (was {_show(old[key])})")
            else:
                _diff(sub, old[key], new[key], out)
        return
    if isinstance(old, list) and isinstance(new, list) and all(
            isinstance(x, str) for x in [*old, *new]):
        gone = [x for x in old if x not in new]
        added = [x for x in new if x not in old]
        parts = [f"added {', '.join(map(_show, added))}" if added else "",
                 f"removed {', '.join(map(_show, gone))}" if gone else ""]
        out.append(f"{where}: " + ("; ".join(p for p in parts if p) or "reordered"))
        return
    out.append(f"{where}: {_show(old)} -> {_show(new)}")
