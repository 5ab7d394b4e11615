"""Checks on a path before SQLite opens it, shared by every file tdmguard owns.

The ledger (:mod:`tdmguard.middlewares.ledger`) and the complaints register
(:mod:`tdmguard.policy.complaints.register`) both want a one-line reason why a
path cannot be their file (empty, a directory, no parent directory, another
kind of file, read-only) before SQLite answers with "unable to open database
file". Imports neither Scrapy nor Twisted.
"""

from __future__ import annotations

import os

__all__ = ["SQLITE_MAGIC", "check_path", "create_private"]

SQLITE_MAGIC = b"SQLite format 3\x00"


def check_path(path: str, noun: str, kind: str, error: type[Exception]) -> None:
    """Raise *error* with a one-line reason why *path* cannot be the *noun*
    (``"ledger"``) of this *kind* (``"a tdmguard ledger"``); a missing file
    is fine when its directory is writable (SQLite creates it)."""
    if not path or path == ":memory:":
        raise error(f"no {noun} path given")
    if os.path.isdir(path):
        raise error(f"cannot use {path} as the {noun}: it is a directory (give a file)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise error(f"cannot create the {noun} {path}: no directory {parent}")
    if os.path.exists(path):
        if not os.access(path, os.R_OK | os.W_OK):
            raise error(f"cannot write the {noun} {path}: the file is read-only")
        try:
            with open(path, "rb") as fh:
                magic = fh.read(16)
        except OSError as exc:
            raise error(f"cannot read the {noun} {path}: {exc.strerror}") from None
        if magic and magic != SQLITE_MAGIC:
            raise error(f"{path} is not an SQLite file, so not {kind}")
    # WAL keeps its -wal and -shm files beside the file.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise error(f"cannot write the {noun} {path}: directory {parent} is read-only")


def create_private(path: str, noun: str, error: type[Exception]) -> None:
    """Create *path* empty with mode 0600 if it does not exist (SQLite's
    -wal and -shm files copy its mode); call :func:`check_path` first."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise error(f"cannot create the {noun} {path}: {exc.strerror}") from None
