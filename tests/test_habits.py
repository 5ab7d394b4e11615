"""House habits that would otherwise live only in reviewers' memories.

No module under crawler/, middlewares/, blocklists/ or policy/ grows past
about 350 lines without a stated reason: a long one says why in a paragraph
of its module docstring that starts with ``Why it is long:``. (A module that
does two jobs is split instead.) The modules are read and parsed, never
imported, so this runs in milliseconds.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import ROOT

#: Lines (as ``wc -l`` counts them) a module may have without a stated reason.
LIMIT = 350
MARK = "Why it is long:"
PACKAGES = ("crawler", "middlewares", "blocklists", "policy")
#: Folders whose modules are not the product's (as the CI's line count skips them).
SKIPPED = frozenset({"tests", "fuzz", "benchmarks", "build", ".venv", "__pycache__"})


def modules() -> list[Path]:
    """Every .py under the four packages, test and build folders aside."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not SKIPPED & set(path.relative_to(ROOT).parts):
                found.append(path)
    return found


def says_why(docstring: str) -> bool:
    """A paragraph of *docstring* starts with the mark and goes on to a reason."""
    return any(p.strip().startswith(MARK) and len(p.strip()) > len(MARK) + 10
               for p in re.split(r"\n[ \t]*\n", docstring))


def test_walk_sees_the_packages():
    names = {p.relative_to(ROOT).as_posix() for p in modules()}
    assert {"crawler/report.py", "middlewares/ledger.py", "blocklists/lists.py",
            "policy/config.py", "middlewares/readers/tdmrep.py"} <= names
    assert not any(n.startswith(("tests/", "fuzz/", "benchmarks/")) for n in names)


def test_says_why_reads_paragraphs():
    assert says_why("Summary.\n\nWhy it is long: it implements the whole grammar.\n")
    assert says_why("Summary.\n    \nWhy it is long: one class owns one transaction.")
    assert not says_why("Summary.\n\nWhy it is long:\n")
    assert not says_why("Summary. Why it is long: mid-paragraph, not a paragraph of its own.")
    assert not says_why("")


def test_long_modules_say_why():
    unexplained = []
    for path in modules():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines <= LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(text, filename=str(path))) or ""
        if not says_why(docstring):
            unexplained.append(f"{path.relative_to(ROOT).as_posix()} ({lines} lines)")
    assert not unexplained, (
        f"over {LIMIT} lines with no '{MARK}' paragraph in the module docstring: "
        + ", ".join(unexplained)
        + ". Split a module that does two jobs; otherwise say why it is long.")
