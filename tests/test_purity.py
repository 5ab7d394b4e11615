"""Every module documented as pure imports neither Scrapy nor Twisted.

Each is imported in a fresh interpreter, so nothing this test process already
imported can hide a dependency.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

READERS = sorted(p.stem for p in (ROOT / "middlewares" / "readers").glob("*.py"))
BLOCKLISTS = sorted(p.stem for p in (ROOT / "blocklists").glob("*.py"))

PURE = [
    "tdmguard.middlewares.vocab",
    "tdmguard.middlewares.registry",
    "tdmguard.middlewares.adapters",
    "tdmguard.middlewares.describe",
    "tdmguard.middlewares.robotspolicy",
    "tdmguard.middlewares.snapshots",
    "tdmguard.middlewares.migrate",
    *(f"tdmguard.middlewares.readers.{m}" if m != "__init__"
      else "tdmguard.middlewares.readers" for m in READERS),
    *(f"tdmguard.blocklists.{m}" if m != "__init__" else "tdmguard.blocklists"
      for m in BLOCKLISTS),
]

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("scrapy", "twisted"))
print(" ".join(bad))
"""


def test_the_list_covers_every_reader():
    assert "tdmguard.middlewares.readers.robots" in PURE
    assert len(READERS) > 10


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_neither_scrapy_nor_twisted(module):
    proc = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "", f"{module} imports {proc.stdout.strip()}"
