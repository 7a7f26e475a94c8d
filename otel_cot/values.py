"""Reading SDK values: fields of SDK objects (or the plain dicts users pass in their place), JSON-able copies
of them, and the GenAI message parts built from them.

Pure functions of their arguments, importing nothing of otel-cot: the provider extractors, the runtime guard
and the content cleaning all read values through here.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

_MISSING = object()

# Per pydantic model class: field name -> whether ``getattr`` on an instance reduces to a look-up in
# the instance ``__dict__`` then ``__pydantic_extra__`` (no class attribute, private attribute or
# custom attribute hook of that name). None: the class is not such a model (read with getattr).
_DIRECT: dict[type, dict[str, bool] | None] = {}


def _model_names(cls: type) -> dict[str, bool] | None:
    names: dict[str, bool] | None = None
    try:
        from pydantic import BaseModel

        if (issubclass(cls, BaseModel) and not issubclass(cls, Mapping)
                and cls.__getattr__ is BaseModel.__getattr__  # type: ignore[attr-defined]
                and cls.__getattribute__ is object.__getattribute__):
            names = {}
    except Exception:  # pydantic missing or an unusual class: the generic path
        names = None
    if len(_DIRECT) < 4096:
        _DIRECT[cls] = names
    return names


def _direct(cls: type, name: str) -> bool:
    if name.startswith("_") or name in (getattr(cls, "__private_attributes__", None) or ()):
        return False
    return not any(name in vars(base) for base in cls.__mro__)


def get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of an SDK object or of the plain dict a user passed in its place.

    Same result as ``getattr(obj, name)`` falling back to ``obj.get(name)`` for mappings; for
    pydantic models (every SDK object) a missing field is answered without pydantic's
    ``__getattr__`` raising an AttributeError, which is most of the cost of a look-up.
    """
    if obj is None:
        return default
    cls = type(obj)
    if cls is dict:
        return obj.get(name, default)
    names = _DIRECT[cls] if cls in _DIRECT else _model_names(cls)
    if names is not None:
        direct = names.get(name)
        if direct is None:
            direct = names[name] = _direct(cls, name)
        if direct:
            value = obj.__dict__.get(name, _MISSING)
            if value is not _MISSING:
                return value
            extra = getattr(obj, "__pydantic_extra__", None)
            if extra:
                return extra.get(name, default)
            return default
    value = getattr(obj, name, _MISSING)
    if value is not _MISSING:
        return value
    return obj.get(name, default) if isinstance(obj, Mapping) else default


class Fields:
    """Reads a fixed set of fields of SDK objects the cheapest exact way: per-chunk code, inline, as

        fields = obj.__dict__ if type(obj) in FIELDS.direct else FIELDS.of(obj)
        value = fields.get("name")

    ``direct`` holds the pydantic model classes whose instance dict is what ``getattr`` reads for every one of
    ``names``: each a field the class declares without an alias, nothing of that name on the class, no custom
    attribute hook. Such a field is in the instance dict whenever it is set (pydantic, and the SDKs' own
    ``construct``, keep only undeclared keys in ``__pydantic_extra__``), so ``.get`` on the dict gives what
    ``get(obj, name)`` gives, without pydantic's ``__getattr__`` hook (most of the cost of a stream chunk).
    ``extras`` are names the class must *not* declare (provider extensions, found in ``__pydantic_extra__``):
    with ``direct``, read them from ``getattr(obj, "__pydantic_extra__", None)``. ``of(obj)`` is the path
    for anything else: it checks a class seen for the first time (then returns the instance dict if the
    class qualifies), else gives a dict of ``get(obj, name)`` for every name, extras included.
    """

    __slots__ = ("names", "extras", "direct", "_checked")

    def __init__(self, *names: str, extras: tuple[str, ...] = ()) -> None:
        self.names = names
        self.extras = extras
        self.direct: set[type] = set()
        self._checked: set[type] = set()

    def of(self, obj: Any) -> dict[str, Any]:
        cls = type(obj)
        if cls not in self._checked and len(self._checked) < 4096:
            self._checked.add(cls)
            if self._qualifies(cls):
                self.direct.add(cls)
        if cls in self.direct:
            return obj.__dict__
        return {name: get(obj, name) for name in self.names + self.extras}

    def _qualifies(self, cls: type) -> bool:
        if _model_names(cls) is None or not all(_direct(cls, name) for name in self.names + self.extras):
            return False
        declared = getattr(cls, "model_fields", None) or {}
        return (all(name in declared and declared[name].alias in (None, name) for name in self.names)
                and not any(name in declared for name in self.extras))


def numbers(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The (attribute, value) pairs whose value is a real number (bools and None left out)."""
    return {key: value for key, value in pairs
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "content": text}


def reasoning_part(text: str) -> dict[str, Any]:
    return {"type": "reasoning", "content": text}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "tool_call", "name": name}
    if call_id is not None:
        part["id"] = call_id
    if arguments is not None:
        part["arguments"] = parse_arguments(arguments)
    return part


def tool_response_part(call_id: Any, response: Any) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "tool_call_response", "response": response}
    if call_id is not None:
        part["id"] = call_id
    return part


def parse_arguments(arguments: Any) -> Any:
    """Tool arguments arrive as JSON text; keep them structured when they parse."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def plain(value: Any) -> Any:
    """A JSON-able copy of an SDK object (pydantic model) or of plain data."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            # SDK unions can make pydantic warn while serialising; the caller must never see that.
            return dump(mode="json", exclude_none=True, warnings=False)
        except TypeError:
            return dump(mode="json", exclude_none=True)
    return str(value)
