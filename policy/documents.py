"""Every document of the policy room at once: what ``tdmguard demo`` and
``docs/examples/make_examples.py`` publish for a configuration.

:func:`write_documents` writes into one directory ``policy.md``,
``policy.html``, ``policy-summary.md``, ``policy-summary.html`` (with the
training-content template's answers when ledgers are given, and their
``top-domains.csv``) and the disclosure under ``disclosure/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tdmguard.policy.config import ConfigError, ProviderConfig
from tdmguard.policy.disclosure import publish
from tdmguard.policy.render import render_policy


def write_documents(cfg: ProviderConfig, directory: str, ledgers: Sequence[str] = (),
                    *, when: str | None = None) -> tuple[list[Path], list[str]]:
    """Write every document for *cfg* into *directory*; *ledgers* are ledger
    file paths. Returns the files written and the warnings."""
    from tdmguard.middlewares.ledger import LedgerError, open_existing

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    opened: list[tuple[str, Any]] = []
    try:
        for path in ledgers:
            try:
                opened.append((path, open_existing(path)))
            except LedgerError as exc:
                raise ConfigError(str(exc)) from None
        written: list[Path] = []
        warnings: list[str] = []
        for public, stem in ((False, "policy"), (True, "policy-summary")):
            for fmt in ("md", "html"):
                text, warned, csv_text = render_policy(
                    cfg, fmt, public=public, ledgers=() if public else opened, when=when,
                    domains_file="top-domains.csv" if opened and not public else None)
                warnings += [w for w in warned if w not in warnings]
                target = out / f"{stem}.{fmt}"
                target.write_text(text, encoding="utf-8")
                written.append(target)
                if csv_text is not None:
                    (out / "top-domains.csv").write_text(csv_text, encoding="utf-8")
        if opened:
            written.append(out / "top-domains.csv")
        changes, warned = publish(cfg, str(out / "disclosure"), when=when)
        warnings += warned
        written.append(out / "disclosure")
        return written, warnings
    finally:
        for _path, db in opened:
            db.close()


__all__ = ["write_documents"]
