"""``tdmguard policy check``: the published documents against the crawlers' settings.

Each document rendered by ``policy render`` and the page written by ``policy
disclosure`` carry the semantic state they were made from
(:func:`tdmguard.policy.state.extract`). This module compares that state with
the state of the configuration now (:func:`tdmguard.policy.state.facts`) and
names each difference in one line: a protocol switched off while the document
says it is honoured, a blocklist edition changed, a crawler token added, a
response time changed. No text is compared, so rewording a template never
counts as drift, and any drift in what the crawler does always does.
"""

from __future__ import annotations

from pathlib import Path

from tdmguard.policy import state as st
from tdmguard.policy.config import ProviderConfig
from tdmguard.policy.differences import differences
from tdmguard.policy.disclosure import PAGE_FILE


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def check_policy(current: dict[str, object], path: str) -> list[str]:
    """Differences between the policy document *path* and *current* facts."""
    text = _read(Path(path))
    if text is None:
        return [f"{path}: cannot be read"]
    found = st.extract(text)
    if not found or not isinstance(found.get("facts"), dict):
        return [f"{path}: carries no tdmguard state (render it with tdmguard policy render)"]
    return [f"{path}: {line}" for line in differences(found["facts"], current)]


def check_published(current: dict[str, object], directory: str) -> list[str]:
    """Differences between the disclosure published in *directory* and *current*."""
    where = Path(directory)
    text = _read(where / PAGE_FILE)
    if text is None:
        return [f"{directory}: no published disclosure (run tdmguard policy disclosure "
                f"--output-dir {directory})"]
    found = st.extract(text) or {}
    published = found.get("facts")
    if not isinstance(published, dict):
        return [f"{where / PAGE_FILE}: carries no tdmguard state"]
    return [f"{where / PAGE_FILE}: {line}"
            for line in differences(published, st.disclosure_facts(dict(current)))]


def check(cfg: ProviderConfig, published: str | None = None,
          policies: tuple[str, ...] = ()) -> list[str]:
    """Every difference, one line each (empty: the documents match)."""
    current = st.facts(cfg)
    problems: list[str] = []
    for path in policies:
        problems += check_policy(current, path)
    if published:
        problems += check_published(current, published)
    return problems


__all__ = ["check", "check_policy", "check_published"]
