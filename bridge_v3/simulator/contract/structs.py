"""Structure sequences shaped like the real module's ``PyStructSequence`` result types.

The real results are C struct sequences (like ``os.stat_result``), not namedtuples: tuples
with read-only attribute access, ``n_fields``/``n_sequence_fields``/``n_unnamed_fields``, a
``Name(field=value, ...)`` repr and a ``_asdict()`` added by MetaQuotes — and no ``_fields``,
``_replace`` or ``_make``. Code written against the simulator must not come to rely on a
namedtuple API the real terminal does not offer.

Their types claim the module ``builtins`` as the real ones do (the C types are created
without a module name), so pickle cannot find them there and a result cannot be pickled:
code that sends results to another process must convert them first (``_asdict()``), on
the simulator as on a real terminal. ``copy.copy``/``deepcopy`` work, as on the real ones.

``build(struct_type, data)`` turns a plain dict from the market or the broker into one of
these, checking that every field is present with a value of the field's kind: a missing,
extra or mistyped key is a bug in the simulator and raises ``StructBuildError`` rather than
being filled with a silent zero.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from bridge_v3.services.mt5.contract.fields import STRUCT_FIELDS, FieldSpec


class StructBuildError(TypeError):
    """A dict handed to ``build`` does not match the struct's fields (a simulator bug)."""


class StructSequence(tuple):
    """Base of every result type: a tuple whose items are also named attributes."""

    __slots__ = ()
    n_fields: ClassVar[int] = 0
    n_sequence_fields: ClassVar[int] = 0
    n_unnamed_fields: ClassVar[int] = 0
    _struct_names: ClassVar[tuple[str, ...]] = ()
    _struct_kinds: ClassVar[tuple[str, ...]] = ()

    def __new__(cls, sequence: Iterable[Any] = ()) -> StructSequence:
        values = tuple(sequence)
        if len(values) != cls.n_fields:
            raise TypeError(
                f"{cls.__name__}() takes a {cls.n_fields}-sequence ({len(values)}-sequence given)"
            )
        return super().__new__(cls, values)

    def __repr__(self) -> str:
        items = ", ".join(f"{n}={v!r}" for n, v in zip(self._struct_names, self, strict=True))
        return f"{type(self).__name__}({items})"

    def __reduce__(self) -> tuple[Any, ...]:
        # As the C struct sequence: copy can use it; pickle fails on looking the type up.
        return (type(self), (tuple(self),))

    def _asdict(self) -> dict[str, Any]:
        """Convert named tuple object to dictionary (nested structs are left as they are)."""
        return dict(zip(self._struct_names, self, strict=True))


def _make_type(name: str, spec: FieldSpec) -> type[StructSequence]:
    names = tuple(field for field, _ in spec)
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__module__": "builtins",
        "__match_args__": names,
        "n_fields": len(names),
        "n_sequence_fields": len(names),
        "n_unnamed_fields": 0,
        "_struct_names": names,
        "_struct_kinds": tuple(kind for _, kind in spec),
    }
    for index, field in enumerate(names):
        namespace[field] = property(operator.itemgetter(index), doc=field)
    return type(name, (StructSequence,), namespace)


AccountInfo = _make_type("AccountInfo", STRUCT_FIELDS["AccountInfo"])
TerminalInfo = _make_type("TerminalInfo", STRUCT_FIELDS["TerminalInfo"])
SymbolInfo = _make_type("SymbolInfo", STRUCT_FIELDS["SymbolInfo"])
Tick = _make_type("Tick", STRUCT_FIELDS["Tick"])
TradeOrder = _make_type("TradeOrder", STRUCT_FIELDS["TradeOrder"])
TradePosition = _make_type("TradePosition", STRUCT_FIELDS["TradePosition"])
TradeDeal = _make_type("TradeDeal", STRUCT_FIELDS["TradeDeal"])
OrderCheckResult = _make_type("OrderCheckResult", STRUCT_FIELDS["OrderCheckResult"])
OrderSendResult = _make_type("OrderSendResult", STRUCT_FIELDS["OrderSendResult"])
BookInfo = _make_type("BookInfo", STRUCT_FIELDS["BookInfo"])
TradeRequest = _make_type("TradeRequest", STRUCT_FIELDS["TradeRequest"])

STRUCT_TYPES: dict[str, type[StructSequence]] = {
    t.__name__: t
    for t in (
        AccountInfo,
        TerminalInfo,
        SymbolInfo,
        Tick,
        TradeOrder,
        TradePosition,
        TradeDeal,
        OrderCheckResult,
        OrderSendResult,
        BookInfo,
        TradeRequest,
    )
}


def build(struct_type: type[StructSequence], data: Mapping[str, Any]) -> StructSequence:
    """Build ``struct_type`` from a dict holding exactly its fields.

    Values are normalised to the Python type the real module produces (numpy scalars become
    int/float/bool). Raises ``StructBuildError`` naming the struct and field on a missing,
    unexpected or mistyped key.
    """
    names = struct_type._struct_names
    missing = [name for name in names if name not in data]
    extra = [key for key in data if key not in names]
    if missing or extra:
        raise StructBuildError(
            f"{struct_type.__name__}: missing fields {missing}, unexpected fields {extra}"
        )
    values = (
        _convert(struct_type.__name__, name, kind, data[name])
        for name, kind in zip(names, struct_type._struct_kinds, strict=True)
    )
    return struct_type(values)


def build_all(struct_type: type[StructSequence], rows: Iterable[Mapping[str, Any]]) -> tuple:
    """A tuple of ``struct_type`` built from each dict of ``rows``, in order."""
    return tuple(build(struct_type, row) for row in rows)


def _convert(struct: str, name: str, kind: str, value: Any) -> Any:
    converter = _CONVERTERS[kind]
    try:
        return converter(value)
    except (TypeError, ValueError) as error:
        raise StructBuildError(
            f"{struct}.{name}: expected {kind}, got {type(value).__name__} {value!r}"
        ) from error


def _to_int(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return operator.index(value)  # refuses floats: a float time or ticket is a bug


def _to_float(value: Any) -> float:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    raise TypeError("not a real number")


def _to_bool(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError("not a bool")


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return str(value)
    raise TypeError("not a str")


def _to_request(value: Any) -> StructSequence:
    if isinstance(value, TradeRequest):
        return value
    if isinstance(value, Mapping):
        return build(TradeRequest, value)
    raise TypeError("not a TradeRequest")


_CONVERTERS = {
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "str": _to_str,
    "TradeRequest": _to_request,
}
