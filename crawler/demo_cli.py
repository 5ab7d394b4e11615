"""``tdmguard demo``: the whole story on the bundled sample web.

The demo serves the sample web (:mod:`tdmguard.crawler.sampleweb`) on
127.0.0.1 and runs the real commands against it, one process each (Scrapy's
reactor runs once per process), printing each command line before it runs so
a reader can run it again by hand:

1. ``crawl`` as the demo provider's training crawler (its identity and
   settings from the demo ``tdmguard.toml``), every decision into a ledger and
   every page that reached the spider into a WARC file;
2. ``audit`` of a URL list with reserved, blocklisted, paywalled and malformed
   rows, decided today and under archived robots.txt captures (``--history``);
3. ``report``: the HTML report of the ledger;
4. ``policy render`` and ``policy disclosure``: the copyright policy and the
   public crawler information, derived from the same configuration;
5. ``verify``: the ledger's hash chain.

Everything goes into one directory (``--output-dir``); running the demo again
appends a new crawl to the same ledger, resumes the audit and keeps the
policy's change log.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS, EXIT_PROBLEM, Interrupted, fail

DATA = Path(__file__).resolve().parent / "data" / "demo"
#: The demo provider's configuration; also the source of docs/examples/.
CONFIG = DATA / "tdmguard.toml"
AUDIT_LIST = DATA / "audit-urls.csv"
HISTORY = DATA / "robots-history.warc.gz"

#: Exit statuses each step may end with: ``audit`` says 1 when it skipped
#: malformed rows, which the demo's list has on purpose.
_ACCEPTED = {"audit": (0, 1)}


def _steps(out: Path, seeds: list[str]) -> list[tuple[str, list[str]]]:
    ledger, config = str(out / "ledger.db"), str(out / "tdmguard.toml")
    return [
        ("Crawl the sample web as DemoBot (identity and settings from tdmguard.toml): "
         "every decision into the ledger, every page that reached the spider into a WARC file.",
         ["crawl", *seeds, "--config", config, "--db", ledger,
          "--warc", str(out / "crawl.warc.gz"), "--decisions", str(out / "decisions.jsonl"),
          "--quiet"]),
        ("Audit a URL list (rows reserved today, reserved at collection, blocklisted, "
         "paywalled, behind a login, unreachable, malformed) against today's rights "
         "documents, and against robots.txt as it stood when each row was collected.",
         ["audit", str(AUDIT_LIST), "--user-agent", "DemoBot", "--fetch-pages",
          "--history", str(HISTORY), "--db", ledger, "-o", str(out / "audit.jsonl"),
          "--quiet"]),
        ("The report a person reads: one self-contained HTML file.",
         ["report", "--db", ledger, "-o", str(out / "report.html")]),
        ("The copyright policy (Measures 1.1 to 1.5), derived from the configuration and "
         "filled from the ledger.",
         ["policy", "render", "--config", config, "--db", ledger,
          "--output", str(out / "policy.md")]),
        ("The public crawler information: page, IP ranges, agent cards, Atom change feed.",
         ["policy", "disclosure", "--config", config, "--output-dir", str(out / "disclosure")]),
        ("Check the ledger's hash chain.",
         ["verify", "--db", ledger]),
    ]


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--output-dir", default="tdmguard-demo", show_default=True,
              type=click.Path(file_okay=False),
              help="Where the ledger, WARC file, audit, report, policy and disclosure go.")
def demo(output_dir: str) -> None:
    """Start the bundled sample web on 127.0.0.1 and run the whole story on
    it: crawl, audit (with archived robots.txt captures), report, copyright
    policy and crawler disclosure, ledger check. Each command is printed
    before it runs; the outputs go into --output-dir.

    \b
    Example:
        tdmguard demo
        tdmguard demo --output-dir /tmp/demo
    """
    from tdmguard.crawler.sampleweb import SEEDS, build_sample_web

    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        config = out / "tdmguard.toml"
        if not config.exists():  # the user's edits of a previous run are kept
            shutil.copyfile(CONFIG, config)
    except OSError as exc:
        raise fail(f"cannot write the demo's output directory {output_dir}: "
                   f"{exc.strerror}") from None
    web = build_sample_web().start()
    env = {**os.environ, "http_proxy": web.proxy_url, "PYTHONUNBUFFERED": "1"}
    for name in ("no_proxy", "NO_PROXY", "TDMGUARD_DB"):
        env.pop(name, None)
    steps = _steps(out, SEEDS)
    try:
        for n, (why, args) in enumerate(steps, 1):
            click.echo(f"\n[{n}/{len(steps)}] {why}\n$ tdmguard {shlex.join(args)}")
            sys.stdout.flush()
            code = subprocess.run([sys.executable, "-m", "tdmguard.crawler.cli", *args],
                                  env=env).returncode
            if code == Interrupted.exit_code:
                raise Interrupted()
            if code not in _ACCEPTED.get(args[0], (0,)):
                click.echo(f"tdmguard: error: the demo's step {n} (tdmguard {args[0]}) "
                           f"exited with status {code}; see its message above", err=True)
                sys.exit(EXIT_PROBLEM)
    finally:
        web.stop()
    click.echo(f"\ntdmguard demo: {len(web.log)} HTTP requests to the sample web (127.0.0.1). "
               f"Outputs in {out}/:")
    for name, what in (("ledger.db", "every decision with the rights documents in force"),
                       ("crawl.warc.gz", "the pages the spider received, and the rights documents"),
                       ("decisions.jsonl", "the crawl's decisions as JSON lines"),
                       ("audit.jsonl", "one verdict per audited row, today and at collection"),
                       ("report.html", "the report (open it in a browser)"),
                       ("policy.md", "the copyright policy"),
                       ("disclosure/", "the public crawler information and its Atom feed"),
                       ("tdmguard.toml", "the configuration all of it came from")):
        click.echo(f"  {name:<16} {what}")
    ledger = shlex.quote(str(out / "ledger.db"))
    toml = shlex.quote(str(out / "tdmguard.toml"))
    click.echo("\nNext, try:\n"
               f"  tdmguard evidence --db {ledger} http://paper.example/news/premium-story\n"
               f"  tdmguard summary --db {ledger}\n"
               f"  tdmguard policy check --config {toml} "
               f"--published {shlex.quote(str(out / 'disclosure'))}\n"
               f"  tdmguard datasette-metadata --db {ledger}    (then serve it with Datasette)\n"
               "  edit the configuration (switch a protocol off), run the demo again, and "
               "see the policy's change log and the feed's new entry")
