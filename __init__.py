"""tdmguard: lawful, provable web crawling for AI training.

The repository's top-level folders install as subpackages of this one
package (``pyproject.toml`` maps ``tdmguard`` to the repository root), so
the distribution adds one import name only:

- ``tdmguard.middlewares``: what plugs into any Scrapy crawl (the add-on,
  the middlewares, the protocol readers and their registry, the ledger);
- ``tdmguard.blocklists``: infringement list files and host matching;
- ``tdmguard.crawler``: the ``tdmguard`` command line, the fixture web, the demo;
- ``tdmguard.policy``: the copyright policy, the disclosure, complaints.

``ADDONS = {"tdmguard.TdmGuard": 0}`` in a Scrapy project's settings turns
the whole toolkit on. ``TdmGuard`` is loaded lazily, so importing a pure
reader never imports Scrapy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TdmGuard"]


def __getattr__(name: str) -> Any:
    if name == "TdmGuard":
        from tdmguard.middlewares.addon import TdmGuard

        return TdmGuard
    raise AttributeError(name)
