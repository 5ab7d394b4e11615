"""Complaint intake: one submission, validated field by field.

:func:`validate` takes a mapping (a JSON object, a CSV row, a web form) and
returns a :class:`Submission`, or the errors keyed by field name. Both shapes
are accepted:

- flat (forms, CSV): ``complainant_name``, ``complainant_organisation``,
  ``complainant_email``, ``capacity``, ``rightsholder``, ``work_description``,
  ``urls`` and ``domains`` (one work; several values separated by white
  space), ``commitment``, ``description``, ``evidence_links``, ``good_faith``,
  ``language``, ``attachments``;
- nested (JSON): ``complainant: {name, organisation, email}`` and
  ``works: [{description, urls: [...], domains: [...]}, ...]`` (errors then
  name ``works[N].urls``).

The schema follows DSA Art. 16(2) (substantiated explanation, exact URLs,
name and email, good-faith statement) and Lumen's roles (complainant =
sender, rightsholder = principal, representative or CMO = agent). Nothing is
coerced silently: an unknown enum value, a control character, text that was
not valid UTF-8, or a value over its limit is an error naming the field.

Why it is long: a DSA Art. 16 notice has many fields, read in two shapes (flat
and nested), and nothing is coerced silently, so each field has its own limits
and its own error keyed by its name; URLs, domains and attachments each need
their own normalisation and checks.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CHANNELS = ("web", "email", "file", "cli")

CAPACITIES = ("rightsholder", "authorised-representative",
              "collective-management-organisation")
_CAPACITY_ALIASES = {
    "rightsholder": "rightsholder", "rights-holder": "rightsholder", "owner": "rightsholder",
    "authorised-representative": "authorised-representative",
    "authorized-representative": "authorised-representative",
    "representative": "authorised-representative", "agent": "authorised-representative",
    "collective-management-organisation": "collective-management-organisation",
    "collective-management-organization": "collective-management-organisation",
    "cmo": "collective-management-organisation",
}

#: The commitment allegedly breached: Measures 1.2-1.4 of the Code's copyright chapter.
COMMITMENTS = {
    "1.2": "Measure 1.2: lawful access (no circumvention of effective technological measures)",
    "1.3": "Measure 1.3: machine-readable reservations of rights (robots.txt and others)",
    "1.4": "Measure 1.4: infringing outputs",
    "other": "another commitment of the copyright chapter",
}
_COMMITMENT_ALIASES = {"1.2": "1.2", "lawful-access": "1.2", "1.3": "1.3",
                       "reservations": "1.3", "reservation": "1.3", "1.4": "1.4",
                       "outputs": "1.4", "other": "other"}

#: Length limits, in characters (attachments in bytes).
LIMITS = {"complainant_name": 200, "complainant_organisation": 200, "complainant_email": 254,
          "rightsholder": 300, "work_description": 2000, "description": 20000,
          "url": 2048, "domain": 253, "language": 35, "filename": 255}
MIN_DESCRIPTION = 10
MAX_WORKS = 100
MAX_LOCATIONS = 1000
MAX_EVIDENCE_LINKS = 50
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS_TOTAL = 20 * 1024 * 1024

#: Form plumbing a web server may pass along; never an error.
IGNORED = frozenset({"csrf_token", "submit"})
FLAT = ("complainant_name", "complainant_organisation", "complainant_email", "capacity",
        "rightsholder", "work_description", "urls", "domains", "commitment", "description",
        "evidence_links", "good_faith", "language", "attachments")
NESTED = ("complainant", "works")

_EMAIL = re.compile(r"[^@\s<>()\[\]\\,;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})"
                    r"\.[A-Za-z0-9-]{2,63}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_YES = ("true", "yes", "on", "1", "y")


@dataclass(frozen=True)
class Work:
    """A work concerned, with the exact URLs and the domains where it was used."""

    description: str
    urls: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """Supporting evidence as a file; stored once by its sha256."""

    filename: str
    content: bytes
    media_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Submission:
    """A valid complaint, not yet in the register."""

    complainant_name: str
    complainant_email: str
    capacity: str
    rightsholder: str
    works: tuple[Work, ...]
    commitment: str
    description: str
    good_faith: bool
    complainant_organisation: str | None = None
    evidence_links: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=(), repr=False)
    language: str = "en"

    def urls(self) -> list[str]:
        return list(dict.fromkeys(u for w in self.works for u in w.urls))

    def domains(self) -> list[str]:
        return list(dict.fromkeys(d for w in self.works for d in w.domains))


class _Errors(dict[str, str]):
    def add(self, key: str, message: str) -> None:
        self.setdefault(key, message)


def _text(value: Any, key: str, errors: _Errors, *, required: bool = False,
          limit: int | None = None, multiline: bool = False) -> str | None:
    """A clean string, or None (recording why under *key*)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(key, "is required")
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            errors.add(key, "is not valid UTF-8 text")
            return None
    if not isinstance(value, str):
        errors.add(key, "must be text")
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
        errors.add(key, "is not valid UTF-8 text")
        return None
    value = value.strip()
    if "\x00" in value or _CONTROL.search(value) or (not multiline and re.search(
            "[\r\n\t\u2028\u2029]", value)):
        errors.add(key, "contains control characters" if multiline else
                   "must be one line without control characters")
        return None
    limit = limit or LIMITS.get(key.rsplit(".", 1)[-1])
    if limit and len(value) > limit:
        errors.add(key, f"is too long ({len(value)} characters; at most {limit})")
        return None
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def _many(value: Any, key: str, errors: _Errors) -> list[str]:
    """A list of strings from a list, or from one string split on white space."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        if all(isinstance(v, str) for v in value):
            return [v.strip() for v in value if v.strip()]
    errors.add(key, "must be a list of strings or one string")
    return []


def url_problem(url: str) -> str | None:
    """Why *url* is not an exact, absolute http(s) location, or None."""
    if len(url) > LIMITS["url"]:
        return f"has a URL over {LIMITS['url']} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"has an unusable URL: {url[:100]!r}"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"needs absolute http:// or https:// URLs, not {url[:100]!r}"
    if _CONTROL.search(url) or any(c.isspace() for c in url):
        return f"has a URL with white space or control characters: {url[:100]!r}"
    return None


def normalise_domain(domain: str) -> str | None:
    """*domain* lower-cased, without a trailing dot, IDNA (ASCII) form; None if not a host name."""
    d = domain.strip().rstrip(".").lower()
    if d.startswith("*."):
        d = d[2:]
    try:
        d = d.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return None
    labels = d.split(".")
    if len(d) > LIMITS["domain"] or len(labels) < 2 or \
            not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return d


def _locations(value_urls: Any, value_domains: Any, key: str, errors: _Errors
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    urls = _many(value_urls, f"{key}urls", errors)
    good_urls = []
    for u in urls:
        problem = url_problem(u)
        if problem:
            errors.add(f"{key}urls", problem)
            break
        good_urls.append(u)
    domains = []
    for d in _many(value_domains, f"{key}domains", errors):
        norm = normalise_domain(d)
        if norm is None:
            errors.add(f"{key}domains", f"has something that is not a domain name: {d[:100]!r}")
            break
        domains.append(norm)
    return tuple(dict.fromkeys(good_urls)), tuple(dict.fromkeys(domains))


def _attachments(value: Any, errors: _Errors) -> tuple[Attachment, ...]:
    if value in (None, "", []):
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        errors.add("attachments", "must be a list of files")
        return ()
    if len(value) > MAX_ATTACHMENTS:
        errors.add("attachments", f"has {len(value)} files; at most {MAX_ATTACHMENTS}")
        return ()
    out, total = [], 0
    for n, item in enumerate(value):
        key = f"attachments[{n}]"
        if isinstance(item, Attachment):
            item = {"filename": item.filename, "content": item.content,
                    "media_type": item.media_type}
        if not isinstance(item, Mapping):
            errors.add(key, "must be an object with filename and content")
            continue
        content = item.get("content")
        if content is None and isinstance(item.get("content_base64"), str):
            try:
                content = base64.b64decode(item["content_base64"], validate=True)
            except (binascii.Error, ValueError):
                errors.add(key, "content_base64 is not valid base64")
                continue
        if not isinstance(content, bytes | bytearray):
            errors.add(key, "needs content (bytes) or content_base64")
            continue
        if not content:
            errors.add(key, "is empty")
            continue
        if len(content) > MAX_ATTACHMENT_BYTES:
            errors.add(key, f"is {len(content)} bytes; at most {MAX_ATTACHMENT_BYTES}")
            continue
        total += len(content)
        name = _text(os.path.basename(str(item.get("filename") or "attachment")),
                     f"{key}.filename", errors, limit=LIMITS["filename"]) or "attachment"
        media = str(item.get("media_type") or "application/octet-stream")
        if not re.fullmatch(r"[\w.+-]{1,64}/[\w.+-]{1,64}", media):
            media = "application/octet-stream"
        out.append(Attachment(name, bytes(content), media))
    if total > MAX_ATTACHMENTS_TOTAL:
        errors.add("attachments", f"total {total} bytes; at most {MAX_ATTACHMENTS_TOTAL}")
    return tuple(out)


def _choice(value: Any, key: str, aliases: dict[str, str], errors: _Errors,
            shown: Sequence[str]) -> str:
    text = _text(value, key, errors, required=True, limit=80)
    if text is None:
        return ""
    norm = re.sub(r"[\s_]+", "-", text.lower())
    if norm.startswith("measure-"):
        norm = norm[len("measure-"):]
    if norm not in aliases:
        errors.add(key, f"must be one of {', '.join(shown)}, not {text[:80]!r}")
        return ""
    return aliases[norm]


def validate(data: Mapping[str, Any]) -> tuple[Submission | None, dict[str, str]]:
    """A :class:`Submission` and no errors, or None and the errors by field name."""
    errors = _Errors()
    if not isinstance(data, Mapping):
        return None, {"_": "a complaint must be an object of fields"}
    unknown = [k for k in data if k not in FLAT and k not in NESTED and k not in IGNORED]
    for k in unknown[:5]:
        errors.add(str(k)[:80], "is not a known field")
    flat = dict(data)
    nested = data.get("complainant")
    if nested is not None:
        if not isinstance(nested, Mapping):
            errors.add("complainant", "must be an object with name, organisation and email")
        else:
            for part in ("name", "organisation", "email"):
                flat.setdefault(f"complainant_{part}", nested.get(part))
    name = _text(flat.get("complainant_name"), "complainant_name", errors, required=True)
    org = _text(flat.get("complainant_organisation"), "complainant_organisation", errors)
    email = _text(flat.get("complainant_email"), "complainant_email", errors, required=True)
    if email is not None and not _EMAIL.fullmatch(email):
        errors.add("complainant_email", "is not an email address")
    capacity = _choice(flat.get("capacity"), "capacity", _CAPACITY_ALIASES, errors,
                       (*CAPACITIES, "cmo"))
    holder = _text(flat.get("rightsholder"), "rightsholder", errors)
    if holder is None and capacity == "rightsholder":
        holder = org or name
    elif holder is None and capacity and "rightsholder" not in errors:
        errors.add("rightsholder", "is required when acting for someone else: name the "
                   "rightsholder you represent")
    works: list[Work] = []
    if data.get("works") is not None:
        if "urls" in data or "domains" in data or "work_description" in data:
            errors.add("works", "give either works or urls/domains/work_description, not both")
        raw = data["works"]
        if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
            errors.add("works", "must be a non-empty list of works")
            raw = []
        if len(raw) > MAX_WORKS:
            errors.add("works", f"has {len(raw)} works; at most {MAX_WORKS}")
            raw = []
        for n, w in enumerate(raw):
            key = f"works[{n}]."
            if not isinstance(w, Mapping):
                errors.add(f"works[{n}]", "must be an object with description, urls, domains")
                continue
            desc = _text(w.get("description"), key + "description", errors, required=True,
                         limit=LIMITS["work_description"], multiline=True)
            urls, domains = _locations(w.get("urls"), w.get("domains"), key, errors)
            if not urls and not domains and key + "urls" not in errors:
                errors.add(key + "urls", "name at least one exact URL or domain for this work")
            works.append(Work(desc or "", urls, domains))
    else:
        desc = _text(flat.get("work_description"), "work_description", errors, required=True,
                     multiline=True)
        urls, domains = _locations(flat.get("urls"), flat.get("domains"), "", errors)
        if not urls and not domains and "urls" not in errors and "domains" not in errors:
            errors.add("urls", "name at least one exact URL (or a domain) where the work "
                       "was used")
        works.append(Work(desc or "", urls, domains))
    if sum(len(w.urls) + len(w.domains) for w in works) > MAX_LOCATIONS:
        errors.add("urls", f"more than {MAX_LOCATIONS} URLs and domains in one complaint: "
                   "split it")
    commitment = _choice(flat.get("commitment"), "commitment", _COMMITMENT_ALIASES, errors,
                         tuple(COMMITMENTS))
    description = _text(flat.get("description"), "description", errors, required=True,
                        multiline=True)
    if description is not None and len(description) < MIN_DESCRIPTION:
        errors.add("description", "explain what happened and why it breaches the "
                   f"commitment (at least {MIN_DESCRIPTION} characters)")
    links = _many(flat.get("evidence_links"), "evidence_links", errors)
    if len(links) > MAX_EVIDENCE_LINKS:
        errors.add("evidence_links", f"has {len(links)} links; at most {MAX_EVIDENCE_LINKS}")
    for link in links:
        problem = url_problem(link)
        if problem:
            errors.add("evidence_links", problem)
            break
    good_faith = flat.get("good_faith")
    confirmed = good_faith is True or (isinstance(good_faith, str)
                                       and good_faith.strip().lower() in _YES) \
        or (type(good_faith) is int and good_faith == 1)
    if not confirmed:
        errors.add("good_faith", "confirm that you believe in good faith that the "
                   "information is accurate and complete")
    language = _text(flat.get("language"), "language", errors) or "en"
    if "language" not in errors and not _LANGUAGE.fullmatch(language):
        errors.add("language", "must be a language tag such as en, de or pt-BR")
    attachments = _attachments(flat.get("attachments"), errors)
    if errors:
        return None, dict(errors)
    assert name is not None and email is not None and description is not None
    return Submission(
        complainant_name=name, complainant_email=email, capacity=capacity,
        rightsholder=holder or name, works=tuple(works), commitment=commitment,
        description=description, good_faith=True, complainant_organisation=org,
        evidence_links=tuple(dict.fromkeys(links)), attachments=attachments,
        language=language), {}
