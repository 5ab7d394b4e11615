"""The web intake of the complaints register: a form and a JSON endpoint.

``tdmguard complaints serve`` runs :func:`create_app` under waitress
(:func:`make_server`), bound to 127.0.0.1 unless told otherwise.

- ``GET /`` (and ``/complaints``): the form. Plain HTML, usable without
  JavaScript (the page has none: ``script-src 'none'``); each field has a
  ``<label>``, its hint and its error joined by ``aria-describedby``; errors
  are listed at the top and repeated next to their fields. Posted as
  ``application/x-www-form-urlencoded`` or ``multipart/form-data`` (files as
  attachments), with a CSRF token (Flask-WTF ``CSRFProtect``, checked after the
  body has passed the limits below). An accepted complaint is acknowledged
  (``mail.acknowledgement``: the .eml in the outbox, SMTP when configured),
  then the browser is sent (303) to its receipt page, ``/receipt/<token>``,
  whose signed token (1 hour) names the reference: references are sequential,
  so a receipt is never found by its reference alone.
- ``POST /api/complaints``: the same fields as a JSON object (flat or nested,
  as :func:`tdmguard.policy.complaints.intake.validate` reads them;
  attachments with ``content_base64``). 201 with the reference, or 400 with
  ``{"errors": {field: message}}``. No CSRF token: the endpoint holds no
  credentials to ride (no session, no cookie is read, any ``Cookie`` or
  ``Authorization`` header is refused), accepts only ``Content-Type:
  application/json`` (which a cross-site page can send only after a CORS
  preflight that this server never grants) and refuses a cross-origin
  ``Origin``. A forged cross-site submission could therefore do nothing that
  the forger cannot do directly.

Limits, each refused with a readable page (HTML) or JSON (under ``/api/``):
the body (``MAX_CONTENT_LENGTH``, default 2 MiB: 413; waitress's own
``max_request_body_size`` is 8 times that, a hard cap behind it), fields per
request (64: 413), bytes per field (128 KiB: 413), characters per field
name (100: 400), text that is not UTF-8 or
carries raw bytes in a URL-encoded body (400), a missing or wrong CSRF token
(400), more than ``rate_limit`` POSTs per client address (Flask-Limiter,
in-memory storage: per process, reset on restart; 429). Every check runs
before anything is stored; the register stores a complaint whole or not at
all. Complainants' text is only ever rendered by Jinja2 with autoescape on.

The bodies are read strictly, before Flask-WTF or anything else sees them,
by :mod:`.bodies`. The routes live in one :func:`create_app` closure so that
they share one CSRF, rate-limit, error-page and security-header setup.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, jsonify, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from tdmguard.policy.complaints import intake
from tdmguard.policy.complaints.bodies import (
    MAX_FIELD_BYTES,
    MAX_FIELDS,
    Refusal,
    read_form,
    read_json,
)
from tdmguard.policy.complaints.config import ComplaintsConfig
from tdmguard.policy.complaints.intake import CAPACITIES, COMMITMENTS, validate
from tdmguard.policy.complaints.register import Register, deadlines

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "complaints"
MAX_BODY = 2 * 1024 * 1024
RATE_LIMIT = "20 per minute"
RECEIPT_MAX_AGE = 3600
#: The fields of the form, in order (``attachments`` are its files).
FORM_FIELDS = tuple(f for f in intake.FLAT if f != "attachments")
#: Each form field: its label and its hint (the hint is read with the field).
LABELS = {
    "complainant_name": ("Your name", "The person sending this complaint."),
    "complainant_organisation": ("Your organisation (optional)",
                                 "For example the collective management organisation "
                                 "or agency you work for."),
    "complainant_email": ("Your email address",
                          "We confirm receipt and send our decision to this address."),
    "capacity": ("You are writing as", ""),
    "rightsholder": ("Rightsholder", "Who holds the rights in the works "
                     "(yourself, or the rightsholder you represent)."),
    "work_description": ("The work or works concerned",
                         "Title, author, and anything else that identifies them."),
    "urls": ("Exact URLs concerned", "One URL per line, each starting with https:// "
             "or http://."),
    "domains": ("Whole domains concerned (optional)",
                "One domain per line, for example example.com, when a reservation "
                "covers a whole site."),
    "commitment": ("What we did wrong", "The commitment of the Code of Practice's "
                   "copyright chapter you believe we did not keep."),
    "description": ("Your explanation", "What happened, when, and why it breaches the "
                    "commitment (at least 10 characters)."),
    "evidence_links": ("Links to supporting evidence (optional)", "One URL per line."),
    "attachments": ("Files as supporting evidence (optional)", ""),
    "language": ("Language for our answer", "A language tag, for example en, fr or de."),
    "good_faith": ("I confirm in good faith that the information in this complaint is "
                   "accurate and complete.", ""),
}
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; script-src 'none'")


# -- the app --------------------------------------------------------------------------------


def create_app(config: ComplaintsConfig, *, register: Register | None = None,
               rate_limit: str = RATE_LIMIT, max_body: int = MAX_BODY,
               secret_key: bytes | None = None) -> Flask:
    """The intake app for *config*'s register (opened here unless given)."""
    app = Flask(__name__, template_folder=str(TEMPLATES),
                static_folder=str(TEMPLATES / "static"), static_url_path="/static")
    app.config.update(
        SECRET_KEY=secret_key or os.urandom(32),
        MAX_CONTENT_LENGTH=max_body,
        MAX_FORM_MEMORY_SIZE=MAX_FIELD_BYTES,
        MAX_FORM_PARTS=MAX_FIELDS,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in the view, after the limits
        WTF_CSRF_TIME_LIMIT=3600,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.autoescape = True  # every template, whatever its name
    csrf = CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://",
                      default_limits=[], headers_enabled=True)
    reg = register if register is not None else Register(config.register)
    receipts = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="complaint-receipt")
    app.extensions["tdmguard_register"] = reg

    @app.context_processor
    def shared() -> dict[str, Any]:
        return {"config": config}

    def wants_json() -> bool:
        return request.path.startswith("/api/")

    def refuse(status: int, message: str, field: str | None = None) -> Response:
        if wants_json():
            body: dict[str, Any] = {"error": message, "status": status}
            if field:
                body["field"] = field
            resp = jsonify(body)
        else:
            resp = Response(render_template("error.html", status=status, message=message,
                                            field=field), mimetype="text/html")
        resp.status_code = status
        return resp

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(Refusal)
    def on_refusal(exc: Refusal) -> Response:
        return refuse(exc.status, exc.message, exc.field)

    @app.errorhandler(CSRFError)
    def on_csrf(exc: CSRFError) -> Response:
        return refuse(400, f"the form's security token is missing, wrong or expired "
                      f"({exc.description}); reload the form and send it again")

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException) -> Response:
        code = exc.code or 500
        text = {413: f"the request is larger than {max_body} bytes, or has more than "
                     f"{MAX_FIELDS} fields or a field over {MAX_FIELD_BYTES} bytes; send "
                     "evidence as links, or fewer files",
                429: f"too many submissions from your address (limit {rate_limit}); "
                     "wait a minute and send it again"}.get(code, exc.description or "")
        return refuse(code, text)

    @app.errorhandler(Exception)
    def on_error(exc: Exception) -> Response:
        logger.exception("complaint intake failed")
        return refuse(500, "the complaint could not be stored; nothing was kept; please "
                      "try again, or write to " + config.contact_email)

    def form_page(values: dict[str, Any], errors: dict[str, str], status: int = 200
                  ) -> Response:
        by_field: dict[str, list[str]] = {}
        for key, message in errors.items():
            name = key.split("[", 1)[0].split(".", 1)[0]
            name = {"complainant": "complainant_name", "works": "urls"}.get(name, name)
            if name not in LABELS:
                name = "_form"
            where = "" if key == name else f"{key}: "
            by_field.setdefault(name, []).append(where + message)
        html = render_template("form.html", values=values, errors=by_field, labels=LABELS,
                               csrf_token=generate_csrf(), capacities=CAPACITIES,
                               commitments=COMMITMENTS, config=config,
                               limits=intake.LIMITS, max_body=max_body)
        return Response(html, status=status, mimetype="text/html")

    def accept(data: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
        sub, errors = validate(data)
        if sub is None:
            return None, errors
        reference = reg.submit(sub, channel="web")
        try:
            from tdmguard.policy.complaints.mail import acknowledgement

            acknowledgement(reg, reference, config, by="web")
            g.acknowledged = True
        except Exception:  # the complaint is stored; the acknowledgement can follow
            logger.exception("acknowledging %(ref)s failed", {"ref": reference})
            g.acknowledged = False
        return reference, {}

    @app.get("/")
    @app.get("/complaints")
    def form() -> Response:
        return form_page({"language": "en"}, {})

    post_limit = limiter.limit(rate_limit, methods=["POST"])

    @app.post("/")
    @app.post("/complaints")
    @post_limit
    def submit_form() -> Response:
        fields, files = read_form()
        csrf.protect()  # raises CSRFError (400) on a missing or wrong token
        values: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
        values = {k: v for k, v in values.items() if v != "" or k in FORM_FIELDS}
        if files:
            values["attachments"] = files
        reference, errors = accept(values)
        if reference is None:
            shown = {k: v for k, v in values.items() if k != "attachments"}
            return form_page(shown, errors, 400)
        token = receipts.dumps(reference)
        return redirect(url_for("receipt", token=token), code=303)  # type: ignore[return-value]

    @app.get("/receipt/<token>")
    def receipt(token: str) -> Response:
        try:
            reference = receipts.loads(token, max_age=RECEIPT_MAX_AGE)
        except BadSignature:
            raise Refusal(404, "this receipt link is unknown or has expired; your "
                          "reference is in the acknowledgement email") from None
        record = reg.get(reference)
        _ack, decide_by = deadlines(record["received_at"], config.acknowledge_days,
                                    config.decide_days)
        html = render_template("receipt.html", record=record, decide_by=decide_by,
                               config=config, commitments=COMMITMENTS)
        return Response(html, mimetype="text/html")

    # No csrf.protect() here: see the module docstring for why a token would
    # protect nothing on this endpoint, and the checks that stand in for it.
    @app.post("/api/complaints")
    @post_limit
    def submit_json() -> Response:
        if "Cookie" in request.headers or "Authorization" in request.headers:
            raise Refusal(400, "the API takes no cookies or credentials; send the "
                          "complaint without them")
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            raise Refusal(403, "cross-origin submissions are not accepted")
        data = read_json()
        reference, errors = accept(data)
        if reference is None:
            resp = jsonify({"errors": errors})
            resp.status_code = 400
            return resp
        try:
            record = reg.get(reference)
        except Exception:  # stored all the same: the reference is what matters
            logger.exception("reading back %(ref)s failed", {"ref": reference})
            record = {}
        resp = jsonify({"reference": reference, "received_at": record.get("received_at"),
                        "duplicate_of": record.get("duplicate_of"),
                        "acknowledged": bool(g.get("acknowledged")),
                        "receipt": url_for("receipt", token=receipts.dumps(reference))})
        resp.status_code = 201
        return resp

    return app


def make_server(app: Flask, host: str = "127.0.0.1", port: int = 0, *, threads: int = 8,
                max_body: int = MAX_BODY) -> Any:
    """A waitress server for *app* (``.effective_port``, ``.run()``, ``.close()``)."""
    from waitress import create_server

    return create_server(app, host=host, port=port, threads=threads,
                         max_request_body_size=max_body * 8,
                         max_request_header_size=64 * 1024,
                         channel_timeout=30, connection_limit=200,
                         clear_untrusted_proxy_headers=True, ident="tdmguard")
