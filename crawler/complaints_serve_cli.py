"""``tdmguard complaints serve``: the web intake of the complaints register."""

from __future__ import annotations

import re
import signal
import threading
from typing import Any

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS, Interrupted, fail

_LIMIT = re.compile(r"\s*\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?\s*", re.I)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback unless you give another, e.g. "
              "behind a reverse proxy with TLS).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0: any free port, printed at start).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              metavar="PATH",
              help="tdmguard.toml with a [complaints] table (default ./tdmguard.toml).")
@click.option("--rate-limit", default="20/minute", show_default=True, metavar="LIMIT",
              help="Submissions accepted per client address, e.g. 20/minute or "
              "1000/second (in memory, per process).")
@click.option("--max-body", type=click.IntRange(min=1024), default=2 * 1024 * 1024,
              show_default=True, metavar="BYTES",
              help="Largest request accepted (form, files and JSON alike).")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Worker threads (waitress).")
def serve(host: str, port: int, config_path: str | None, rate_limit: str, max_body: int,
          threads: int) -> None:
    """Serve the complaint form and the JSON endpoint (POST /api/complaints)
    with waitress, until interrupted. Each accepted complaint is stored in the
    register, acknowledged (outbox, SMTP when configured) and answered with
    its reference and a receipt page.

    \b
    Example:
        tdmguard complaints serve --config tdmguard.toml --port 8080
        curl -H 'Content-Type: application/json' -d @complaint.json \\
            http://127.0.0.1:8080/api/complaints
    """
    from tdmguard.policy.complaints.config import ComplaintsConfigError, load
    from tdmguard.policy.complaints.register import Register, RegisterError
    from tdmguard.policy.complaints.server import create_app, make_server

    if not _LIMIT.fullmatch(rate_limit):
        raise fail(f"--rate-limit {rate_limit!r}: give N/second, N/minute, N/hour or N/day")
    try:
        cfg = load(config_path)
        register = Register(cfg.register)
    except (ComplaintsConfigError, RegisterError) as exc:
        raise fail(str(exc)) from None
    try:
        app = create_app(cfg, register=register, rate_limit=rate_limit, max_body=max_body)
        try:
            server = make_server(app, host, port, threads=threads, max_body=max_body)
        except OSError as exc:
            raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        where = f"http://{host if ':' not in host else f'[{host}]'}:{server.effective_port}/"
        click.echo(f"Complaint intake on {where} (register {cfg.register}, outbox "
                   f"{cfg.outbox}, {rate_limit} per client, bodies up to {max_body} bytes)",
                   err=True)
        if host not in ("127.0.0.1", "::1", "localhost"):
            click.echo(f"Warning: listening on {host}, not loopback: serve it behind TLS",
                       err=True)
        stopped: list[Any] = []

        def stop(signum: int, frame: Any) -> None:
            stopped.append(signum)
            threading.Thread(target=server.close, daemon=True).start()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop)
        try:
            server.run()
        except (OSError, ValueError):  # the listening socket closed under run()
            if not stopped:
                raise
    finally:
        register.close()
    if stopped:
        click.echo("Complaint intake stopped.", err=True)
        if stopped[0] == signal.SIGINT:
            raise Interrupted()
