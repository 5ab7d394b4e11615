"""C2PA / CAWG training-and-data-mining assertions.

Spec: C2PA Technical Specification 1.x ``c2pa.training-mining`` (entries
``c2pa.ai_generative_training``, ``c2pa.ai_inference``, ``c2pa.ai_training``,
``c2pa.data_mining``) and the CAWG Training and Data Mining Assertion 1.1
(DIF, ratified 2025-05-16) ``cawg.training-mining`` (``cawg.*`` entries;
``cawg.ai_training`` is non-generative training only). Each entry has
``use``: ``allowed``, ``notAllowed`` or ``constrained``; "in the absence of
additional information, ``constrained`` shall be treated as equivalent to
``notAllowed``". ``constraint_info`` (CDDL) and ``constraints_info`` (prose)
are both recorded. Entry-to-purpose mapping: ``c2pa`` in purposes.json.

Input is a manifest store as JSON (what ``c2pa.Reader.json()`` returns), a
single manifest, a single assertion, or a bare ``entries`` mapping. Reading
the store from asset bytes uses the optional ``c2pa-python`` package
(:func:`read_manifest_store`), configured to make no network request
(no remote manifests, no OCSP), in a child process under a memory and a time
bound (:mod:`._native`); without it, an asset that carries a manifest is
``unreadable`` (never silently allowed).

Signature validity is recorded: a reservation holds whatever the validation
state (anyone may ask us not to train); a permission counts only when the
manifest validated.

Modes: ``rfc`` reads the active manifest only; ``strict`` (default) also
reads the ingredients' manifests in the store (a composite keeps the
reservations of its parts).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tdmguard.middlewares.vocab import (
    PERMITTED,
    RESERVED,
    STRICT,
    TRAIN_AI,
    UNAVAILABLE,
    UNREADABLE,
    Reason,
)

from . import _native
from ._common import clip, covers, never_raises, norm_mode

PROTOCOL = "c2pa"
SPEC = "C2PA 1.x c2pa.training-mining; CAWG Training and Data Mining Assertion 1.1"
_LABEL = re.compile(r"^(c2pa|cawg)\.training-mining(\.v\d+)?(__\d+)?$")
_RESERVING = {"notallowed", "constrained"}
VALID_STATES = {"valid", "trusted"}


def _assertions(
    store: Mapping[str, Any], mode: str
) -> list[tuple[str, Mapping[str, Any]]]:
    """``(manifest label, assertion)`` pairs to read."""
    if "manifests" in store and isinstance(store["manifests"], Mapping):
        manifests = store["manifests"]
        active = store.get("active_manifest")
        if mode != STRICT and isinstance(active, str) and active in manifests:
            chosen = [(active, manifests[active])]
        else:
            chosen = list(manifests.items())
    elif "assertions" in store:
        chosen = [("manifest", store)]
    elif "label" in store and "data" in store:
        chosen = [("manifest", {"assertions": [store]})]
    elif "entries" in store:
        chosen = [
            ("manifest", {"assertions": [{"label": "training-mining", "data": store}]})
        ]
    else:
        return []
    out = []
    for label, manifest in chosen:
        assertions = (
            manifest.get("assertions") if isinstance(manifest, Mapping) else None
        )
        for assertion in assertions if isinstance(assertions, list) else []:
            if isinstance(assertion, Mapping):
                name = str(assertion.get("label", ""))
                if _LABEL.match(name) or name == "training-mining":
                    out.append((str(label), assertion))
    return out


@never_raises(PROTOCOL)
def c2pa_reasons(
    store: Mapping[str, Any] | str | bytes | None,
    purpose: str = TRAIN_AI,
    mode: str = STRICT,
    source: str = "C2PA manifest",
    validation_state: str | None = None,
) -> list[Reason]:
    """Training-and-data-mining verdict from a manifest store; one reason."""
    mode = norm_mode(mode)
    if isinstance(store, (str, bytes, bytearray)):
        try:
            store = json.loads(store)
        except (ValueError, RecursionError):
            return [
                Reason(
                    PROTOCOL,
                    UNREADABLE,
                    "",
                    source,
                    "The C2PA manifest store is not valid JSON; failing closed.",
                )
            ]
    if not isinstance(store, Mapping):
        return [Reason(PROTOCOL, UNAVAILABLE, "", source, "No C2PA manifest.")]
    if validation_state is None and isinstance(store.get("validation_state"), str):
        validation_state = store["validation_state"]
    reserving, allowing = [], []
    for manifest, assertion in _assertions(store, mode):
        data = assertion.get("data")
        entries = data.get("entries") if isinstance(data, Mapping) else None
        if not isinstance(entries, Mapping):
            continue
        for key, value in entries.items():
            if not covers(PROTOCOL, str(key), purpose, mode):
                continue
            use = value.get("use") if isinstance(value, Mapping) else value
            use = str(use or "").strip()
            info = ""
            if isinstance(value, Mapping):
                info = str(
                    value.get("constraint_info") or value.get("constraints_info") or ""
                )
            evidence = f"{assertion.get('label')} {key}: use={use}"
            if info:
                evidence += f" ({clip(info, 120)})"
            if manifest != "manifest":
                evidence += f" [manifest {clip(manifest, 80)}]"
            if use.lower() in _RESERVING:
                reserving.append(evidence)
            elif use.lower() == "allowed":
                allowing.append(evidence)
    state = f" Manifest validation: {validation_state}." if validation_state else ""
    if reserving:
        return [
            Reason(
                PROTOCOL,
                RESERVED,
                clip("; ".join(reserving), 400),
                source,
                "A C2PA/CAWG training-and-data-mining assertion does not allow "
                f"'{purpose}'.{state}",
            )
        ]
    trusted = validation_state is None or validation_state.lower() in VALID_STATES
    if not trusted:
        # A manifest that failed validation was altered or damaged: what it
        # still says (or no longer says) about training cannot be trusted, and
        # a damaged do-not-train assertion must not read as "no statement".
        return [
            Reason(
                PROTOCOL,
                UNREADABLE,
                clip("; ".join(allowing), 400),
                source,
                "The C2PA manifest did not validate, so its training-and-data-mining "
                f"statements cannot be trusted; failing closed.{state}",
            )
        ]
    if allowing:
        if trusted:
            return [
                Reason(
                    PROTOCOL,
                    PERMITTED,
                    clip("; ".join(allowing), 400),
                    source,
                    f"The assertion allows '{purpose}'.{state}",
                )
            ]
        return [
            Reason(
                PROTOCOL,
                UNAVAILABLE,
                clip("; ".join(allowing), 400),
                source,
                f"The assertion allows '{purpose}', but the manifest did not "
                f"validate.{state}",
            )
        ]
    return [
        Reason(
            PROTOCOL,
            UNAVAILABLE,
            "",
            source,
            f"No training-and-data-mining entry speaks about '{purpose}'.{state}",
        )
    ]


# -- reading manifests from bytes (optional c2pa-python) ------------------------


def library_available() -> bool:
    try:
        import c2pa  # noqa: F401
    except Exception:
        return False
    return True


def read_manifest_store(
    data: bytes,
    mime: str | None,
    memory_limit: int = _native.MEMORY_LIMIT,
    time_limit: float = _native.TIME_LIMIT,
) -> tuple[dict[str, Any] | None, str | None, str]:
    """``(store, validation state, error)`` for an asset's embedded manifest.

    ``store`` is None when the asset has no manifest or it could not be read
    (then *error* says why). The native read runs in a child process under
    *memory_limit* bytes of address space and *time_limit* seconds
    (:mod:`._native`); overrunning either is an error. Never raises.
    """
    if not library_available():
        return None, None, "c2pa-python is not installed"
    try:
        text, state, error = _native.read_store(data, mime, memory_limit, time_limit)
    except _native.NativeReadError as exc:
        return None, None, clip(f"the C2PA reader {exc}", 300)
    except Exception as exc:  # could not start a child, a garbled answer
        return None, None, clip(f"{type(exc).__name__}: {exc}", 200)
    if text is None:
        return None, None, error
    try:
        store = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, None, clip(f"the manifest store is not JSON: {exc}", 200)
    if not isinstance(store, dict):
        return None, None, "the manifest store is not a JSON object"
    return store, state, ""


__all__ = [
    "PROTOCOL",
    "SPEC",
    "c2pa_reasons",
    "library_available",
    "read_manifest_store",
]
