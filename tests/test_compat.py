"""The one Scrapy seam: private Scrapy, Twisted or Protego API only in compat.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tdmguard.middlewares import compat

ROOT = Path(__file__).resolve().parents[1]
SEAM = ROOT / "middlewares" / "compat.py"
THIRD_PARTY = ("scrapy", "twisted", "protego", "w3lib", "parsel")
#: Modules whose documented API has leading underscores (os._exit, sys._getframe).
STDLIB = {"os", "sys"}


def _sources() -> list[Path]:
    skip = {"tests", "build", "benchmarks"}
    return [p for p in ROOT.rglob("*.py")
            if not ({part for part in p.relative_to(ROOT).parts} & skip)
            and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _our_names(trees: dict[Path, ast.Module]) -> set[str]:
    """Every private name tdmguard defines itself (functions, classes, fields,
    attributes assigned on any object, module globals)."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return {n for n in names if _private(n)}


def test_private_third_party_api_is_used_only_in_compat():
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in _sources()}
    assert SEAM in trees and len(trees) > 30
    ours = _our_names(trees)
    found = []
    for path, tree in trees.items():
        if path == SEAM:
            continue
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                if top in THIRD_PARTY and (
                        any(_private(part) for part in node.module.split("."))
                        or any(_private(alias.name) for alias in node.names)):
                    found.append(f"{where}:{node.lineno}: from {node.module} import ...")
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                stdlib = isinstance(node.value, ast.Name) and node.value.id in STDLIB
                if node.attr not in ours and not stdlib:
                    found.append(f"{where}:{node.lineno}: .{node.attr}")
    assert found == []


def test_the_seam_is_what_it_says():
    text = SEAM.read_text(encoding="utf-8")
    for private in ("_get_slot", "_latercall", "latercall", "(request, deferred)"):
        assert private in text
    # Each wrapper says what public API would replace it.
    for name in ("download_slot", "hold_slot", "count_transfers_on_dequeue",
                 "set_slot_delay"):
        doc = getattr(compat, name).__doc__ or ""
        assert "ublic" in doc, name


def _slot(concurrency: int, jitter: bool):
    import inspect

    from scrapy.core.downloader import Slot

    if "jitter" in inspect.signature(Slot).parameters:
        return Slot(concurrency, 0.0, 0.5 if jitter else 0.0)
    return Slot(concurrency, 0.0, jitter)  # Scrapy 2.14: randomize_delay


@pytest.mark.parametrize("jitter", [True, False])
def test_set_slot_delay_turns_randomisation_off(jitter):
    slot = _slot(2, jitter)
    assert compat.slot_has_jitter(slot) is jitter
    compat.set_slot_delay(slot, 3.0)
    assert slot.delay == 3.0 and slot.download_delay() == 3.0
    assert compat.slot_has_jitter(slot) is False


def test_transfer_queue_counts_a_request_when_it_leaves():
    from scrapy import Request

    slot = _slot(1, False)
    request = Request("http://x.example/")
    slot.queue.append((request, None))
    compat.count_transfers_on_dequeue(slot)
    compat.count_transfers_on_dequeue(slot)  # idempotent
    assert len(slot.queue) == 1 and slot.free_transfer_slots() == 1
    assert slot.queue.popleft()[0] is request
    assert request in slot.transferring and slot.free_transfer_slots() == 0
