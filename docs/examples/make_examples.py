"""Render the examples in this directory from the demo configuration
(``crawler/data/demo/tdmguard.toml``, copied here as ``tdmguard.toml``).

Crawls the bundled sample web (the one ``tdmguard demo`` serves on 127.0.0.1)
once as each crawler identity of the file, recording both crawls in one
ledger, then writes:

- ``policy.md`` and ``policy.html``: the copyright policy, with the
  training-content template's sections 2.3 and 3.1 filled from the ledger;
- ``policy-summary.md`` and ``policy-summary.html``: the public summary;
- ``top-domains.csv``: the most relevant domains (section 2.3);
- ``disclosure/``: the crawler page, IP ranges, Signature Agent Cards, feed;
- ``policy-history.json``: the versions and change log the renders keep.

Run from the repository root: ``python docs/examples/make_examples.py``. The
ledger is written to a temporary directory and not kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

HERE = Path(__file__).resolve().parent
#: The demo's configuration (``tdmguard demo`` ships it), copied here first, so
#: the examples' policy history is kept beside them and not in the package.
SOURCE = HERE.parents[1] / "crawler" / "data" / "demo" / "tdmguard.toml"
CONFIG = HERE / "tdmguard.toml"

CRAWL = """
import sys
from tdmguard.crawler.run import run_crawl
from tdmguard.crawler.sampleweb import SEEDS
from tdmguard.crawler.spiders.audit import AuditSpider
from tdmguard.policy.config import crawl_settings, load

settings = crawl_settings(load(sys.argv[1]), sys.argv[2])
settings.update(TDMGUARD_DB=sys.argv[3], DOWNLOAD_TIMEOUT=3)
run_crawl(AuditSpider, settings, seeds=SEEDS)
"""


def main() -> None:
    from tdmguard.crawler.sampleweb import build_sample_web
    from tdmguard.policy.check import check
    from tdmguard.policy.config import load
    from tdmguard.policy.documents import write_documents

    CONFIG.write_bytes(SOURCE.read_bytes())
    cfg = load(str(CONFIG))
    with tempfile.TemporaryDirectory() as tmp:
        ledger = os.path.join(tmp, "demo.db")
        web = build_sample_web().start()
        env = {**os.environ, "http_proxy": web.proxy_url}
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        try:
            for crawler in cfg.crawlers:  # one process per crawl: the reactor runs once
                subprocess.run([sys.executable, "-c", CRAWL, str(CONFIG), crawler.name, ledger],
                               env=env, check=True)
        finally:
            web.stop()
        written, warnings = write_documents(cfg, str(HERE), [ledger])
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    problems = check(cfg, str(HERE / "disclosure"),
                     tuple(str(HERE / f"policy.{fmt}") for fmt in ("md", "html")))
    if problems:
        sys.exit("\n".join(problems))
    print("\n".join(str(p.relative_to(HERE)) for p in written))


if __name__ == "__main__":
    main()
