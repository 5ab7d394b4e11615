"""The ``[complaints]`` table of ``tdmguard.toml``.

::

    [complaints]
    contact_email = "copyright@example.org"    # required: the point of contact
    contact_url = "https://example.org/complaints"
    acknowledge_days = 7                       # confirm receipt within (DSA 16(4))
    decide_days = 30                           # decide within (DSA 16(5))
    register = "complaints.db"                 # the register (personal data, mode 0600)
    outbox = "outbox"                          # emails written here, one .eml each
    reservations = "reservations.jsonl"        # rightsholder reservations (TDMGUARD_RESERVATIONS)
    smtp_host = "127.0.0.1"                    # send emails too (optional)
    smtp_port = 25
    smtp_from = "copyright@example.org"        # default: contact_email
    redress = "..."                            # redress text for decisions (optional)

Relative paths are taken from the directory of the file that holds the table.
Errors are one line naming the field (``complaints.<field>``).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from typing import Any

_EMAIL = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+")

FIELDS = ("contact_email", "contact_url", "acknowledge_days", "decide_days", "register",
          "outbox", "reservations", "smtp_host", "smtp_port", "smtp_from", "redress")

DEFAULT_REDRESS = (
    "If you disagree with this decision, reply to this message quoting the reference "
    "and we will review it. This does not affect the measures, remedies and sanctions "
    "available to enforce copyright and related rights under Union and national law: "
    "you may also bring the matter before a competent court or authority.")


class ComplaintsConfigError(ValueError):
    """The ``[complaints]`` table is unusable: one line naming the field."""


@dataclass(frozen=True)
class ComplaintsConfig:
    contact_email: str
    contact_url: str | None = None
    acknowledge_days: int = 7
    decide_days: int = 30
    register: str = "complaints.db"
    outbox: str = "outbox"
    reservations: str = "reservations.jsonl"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    redress: str = DEFAULT_REDRESS

    @property
    def sender(self) -> str:
        return self.smtp_from or self.contact_email


def _where(path: str, field: str) -> str:
    return f"{path}: complaints.{field}"


def _string(table: dict[str, Any], field: str, path: str, default: str | None
            ) -> str | None:
    value = table.get(field, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ComplaintsConfigError(f"{_where(path, field)} must be a non-empty string")
    if any(c in value for c in "\r\n\x00"):
        raise ComplaintsConfigError(f"{_where(path, field)} must be one line")
    return value.strip()


def _days(table: dict[str, Any], field: str, path: str, default: int) -> int:
    value = table.get(field, default)
    if type(value) is not int or not 1 <= value <= 3650:
        raise ComplaintsConfigError(f"{_where(path, field)} must be a whole number of days "
                                    f"from 1 to 3650, not {value!r}")
    return value


def parse_complaints_section(table: dict[str, Any], *, path: str) -> ComplaintsConfig:
    """The ``[complaints]`` table as a :class:`ComplaintsConfig`; ``path`` is the
    file it came from (for messages and for resolving relative paths)."""
    if not isinstance(table, dict):
        raise ComplaintsConfigError(f"{path}: complaints must be a table")
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise ComplaintsConfigError(f"{_where(path, unknown[0])} is not a known setting "
                                    f"(known: {', '.join(FIELDS)})")
    if "contact_email" not in table:
        raise ComplaintsConfigError(f"{_where(path, 'contact_email')} is required: the "
                                    "point of contact's email address")
    email = _string(table, "contact_email", path, None) or ""
    if not _EMAIL.fullmatch(email):
        raise ComplaintsConfigError(f"{_where(path, 'contact_email')} is not an email "
                                    f"address: {email!r}")
    url = _string(table, "contact_url", path, None)
    if url is not None and not re.match(r"https?://[^\s/]+", url):
        raise ComplaintsConfigError(f"{_where(path, 'contact_url')} must be an http(s) URL")
    ack = _days(table, "acknowledge_days", path, 7)
    decide = _days(table, "decide_days", path, 30)
    if decide < ack:
        raise ComplaintsConfigError(f"{_where(path, 'decide_days')} ({decide}) is shorter "
                                    f"than complaints.acknowledge_days ({ack})")
    base = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()

    def place(field: str, default: str) -> str:
        value = _string(table, field, path, default) or default
        return os.path.normpath(os.path.join(base, os.path.expanduser(value)))

    port = table.get("smtp_port", 25)
    if type(port) is not int or not 1 <= port <= 65535:
        raise ComplaintsConfigError(f"{_where(path, 'smtp_port')} must be a port number "
                                    f"(1-65535), not {port!r}")
    sender = _string(table, "smtp_from", path, None)
    if sender is not None and not _EMAIL.fullmatch(sender):
        raise ComplaintsConfigError(f"{_where(path, 'smtp_from')} is not an email address")
    redress = table.get("redress", DEFAULT_REDRESS)
    if not isinstance(redress, str) or not redress.strip():
        raise ComplaintsConfigError(f"{_where(path, 'redress')} must be a non-empty string")
    return ComplaintsConfig(
        contact_email=email, contact_url=url, acknowledge_days=ack, decide_days=decide,
        register=place("register", "complaints.db"), outbox=place("outbox", "outbox"),
        reservations=place("reservations", "reservations.jsonl"),
        smtp_host=_string(table, "smtp_host", path, None), smtp_port=port,
        smtp_from=sender, redress=redress.strip())


def load(path: str | None = None) -> ComplaintsConfig:
    """The ``[complaints]`` table of *path* (default ``./tdmguard.toml``), read alone."""
    path = path or "tdmguard.toml"
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ComplaintsConfigError(f"no configuration file {path}: give --config PATH "
                                    "(a tdmguard.toml with a [complaints] table)") from None
    except OSError as exc:
        raise ComplaintsConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ComplaintsConfigError(f"{path} is not valid TOML: {exc}") from None
    if "complaints" not in data:
        raise ComplaintsConfigError(f"{path} has no [complaints] table (it needs at least "
                                    "complaints.contact_email)")
    return parse_complaints_section(data["complaints"], path=path)
