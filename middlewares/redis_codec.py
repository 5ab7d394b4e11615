"""Requests as JSON for the shared queue: never pickle.

``Request.to_dict`` / ``request_from_dict`` with bytes as ``{"$b": base64}``,
dicts with non-text keys as ``{"$d": [[k, v], ...]}`` and tdmguard's reasons
as ``{"$reason": {...}}``. A queue entry is untrusted input: decoding accepts
only plain data naming a ``scrapy.http`` request class and public spider
methods, so whoever can write to Redis can queue URLs, not run code.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from scrapy.http import Request
from scrapy.utils.misc import load_object
from scrapy.utils.request import request_from_dict

from tdmguard.middlewares.vocab import ORIGIN_META, ORIGIN_URL_META, TDMREP_META, Reason

if TYPE_CHECKING:
    from scrapy.spiders import Spider

__all__ = ["LOCAL_META", "Unshareable", "decode_request", "encode_request"]

#: Meta keys every pass through the middlewares sets again (a parsed
#: document, a cached origin): not shared, never needed from the queue.
LOCAL_META = frozenset({TDMREP_META, ORIGIN_META, ORIGIN_URL_META})


class Unshareable(TypeError):
    """A request carries something JSON cannot hold."""


def _to_json(value: Any, path: str) -> Any:
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is bytes:
        return {"$b": base64.b64encode(value).decode("ascii")}
    if kind in (list, tuple):
        return [_to_json(v, path) for v in value]
    if isinstance(value, Reason):
        return {"$reason": value.to_dict()}
    if isinstance(value, dict):
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: _to_json(v, f"{path}.{k}") for k, v in value.items()}
        return {"$d": [[_to_json(k, path), _to_json(v, path)] for k, v in value.items()]}
    raise Unshareable(f"{path} is a {kind.__name__}")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            if "$b" in value:
                return base64.b64decode(value["$b"], validate=True)
            if "$reason" in value:
                return Reason.from_dict(value["$reason"])
            if "$d" in value:
                return {_from_json(k) if not isinstance(k, list) else tuple(k):
                        _from_json(v) for k, v in value["$d"]}
        return {k: _from_json(v) for k, v in value.items()}
    return value


def encode_request(request: Request, spider: Spider | None) -> str:
    """*request* as compact JSON (raises :class:`Unshareable`)."""
    try:
        data = request.to_dict(spider=spider)
    except ValueError as exc:  # a callback that is not a spider method
        raise Unshareable(str(exc)) from None
    data["meta"] = {k: v for k, v in data.get("meta", {}).items() if k not in LOCAL_META}
    return json.dumps(_to_json(data, "request"), separators=(",", ":"), sort_keys=True)


def decode_request(text: str | bytes, spider: Spider | None) -> Request:
    """The request a JSON entry describes. Raises ``ValueError`` for anything
    that is not plain data naming a ``scrapy.http`` request class and public
    spider methods (a queue entry is untrusted input)."""
    data = _from_json(json.loads(text))
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ValueError("not a request: no url")
    cls_name = data.get("_class")
    if cls_name is not None:
        if not (isinstance(cls_name, str) and cls_name.startswith("scrapy.http.")):
            raise ValueError(f"request class {cls_name!r} is not a scrapy.http class")
        cls = load_object(cls_name)
        if not (isinstance(cls, type) and issubclass(cls, Request)):
            raise ValueError(f"{cls_name!r} is not a Request class")
    for name in ("callback", "errback"):
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or value.startswith("_")):
            raise ValueError(f"{name} {value!r} is not a public spider method name")
    if "headers" in data and isinstance(data["headers"], dict):
        data["headers"] = {k: v for k, v in data["headers"].items()}
    return request_from_dict(data, spider=spider)
