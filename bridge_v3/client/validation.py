"""A small JSON Schema validator for the subset the bridge's own schemas use.

The subscriber checks every message against ``bridge_v3/schemas`` without a runtime
dependency beyond redis-py. Supported: ``type``, ``properties``, ``required``,
``additionalProperties``, ``enum``, ``const``, ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``minLength``, ``maxLength``, ``pattern``,
``items``, ``minItems``, ``anyOf`` and local ``$ref`` into ``$defs``; descriptive keywords
are ignored. A schema using anything else is refused when it is compiled, so a schema the
validator cannot fully check never passes messages silently (the test suite compiles every
shipped schema and compares the verdicts with the ``jsonschema`` library).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

Check = Callable[[object, str], "list[str]"]

ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "examples", "default", "format", "$defs"}
)
_TYPES: dict[str, Callable[[object], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and math.isfinite(v) and v.is_integer())
    ),
}


class SchemaError(ValueError):
    """A schema uses a keyword this validator does not implement."""


def compile_schema(schema: dict, name: str = "message") -> Callable[[object], list[str]]:
    """A function returning the reasons ``instance`` fails ``schema`` (empty when valid);
    each reason starts with the path of the failing value, from ``name``."""
    check = _compile(schema, schema)
    return lambda instance: check(instance, name)


def _compile(schema: dict, root: dict) -> Check:
    if "$ref" in schema:
        return _compile(_resolve(schema["$ref"], root), root)
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in ANNOTATIONS or keyword in ("required", "additionalProperties"):
            continue
        builder = _KEYWORDS.get(keyword)
        if builder is None:
            raise SchemaError(f"schema keyword {keyword!r} is not supported")
        checks.append(builder(value, schema, root))
    if "required" in schema or "additionalProperties" in schema:
        checks.append(_object_rules(schema, root))

    def check(instance: object, where: str) -> list[str]:
        for one in checks:
            if errors := one(instance, where):
                return errors  # the first failing keyword is reason enough
        return []

    return check


def _resolve(ref: str, root: dict) -> dict:
    if not ref.startswith("#/$defs/"):
        raise SchemaError(f"only local '#/$defs/...' references are supported, got {ref!r}")
    name = ref[len("#/$defs/") :]
    try:
        return root["$defs"][name]
    except KeyError:
        raise SchemaError(f"reference {ref!r} points nowhere") from None


def _type(value, schema, root) -> Check:
    names = [value] if isinstance(value, str) else list(value)
    unknown = [n for n in names if n not in _TYPES]
    if unknown:
        raise SchemaError(f"unknown type {unknown[0]!r}")

    def check(instance, where):
        if any(_TYPES[n](instance) for n in names):
            return []
        return [f"{where}: expected {' or '.join(names)}, got {instance!r:.60}"]

    return check


def _properties(value, schema, root) -> Check:
    children = {key: _compile(sub, root) for key, sub in value.items()}

    def check(instance, where):
        if not isinstance(instance, dict):
            return []
        errors: list[str] = []
        for key, child in children.items():
            if key in instance:
                errors += child(instance[key], f"{where}.{key}")
        return errors

    return check


def _object_rules(schema, root) -> Check:
    required = list(schema.get("required", ()))
    extra = schema.get("additionalProperties", True)
    known = set(schema.get("properties", {}))
    extra_check = _compile(extra, root) if isinstance(extra, dict) else None

    def check(instance, where):
        if not isinstance(instance, dict):
            return []
        missing = [key for key in required if key not in instance]
        if missing:
            return [f"{where}: missing {', '.join(missing)}"]
        errors: list[str] = []
        for key in instance.keys() - known:
            path = f"{where}.{key}"
            if extra is False:
                errors.append(f"{path}: not allowed")
            elif extra_check is not None:
                errors += extra_check(instance[key], path)
        return errors

    return check


def _enum(value, schema, root) -> Check:
    def check(instance, where):
        if any(_same(instance, option) for option in value):
            return []
        return [f"{where}: {instance!r:.60} is not one of {value!r:.80}"]

    return check


def _const(value, schema, root) -> Check:
    def check(instance, where):
        return [] if _same(instance, value) else [f"{where}: must be {value!r}"]

    return check


def _same(a: object, b: object) -> bool:
    """JSON equality: 1 == 1.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _bound(test: Callable[[float, float], bool], words: str) -> Callable:
    def builder(limit, schema, root) -> Check:
        def check(instance, where):
            if not _TYPES["number"](instance) or test(instance, limit):
                return []
            return [f"{where}: {instance!r} is not {words} {limit}"]

        return check

    return builder


def _length(test: Callable[[int, int], bool], words: str) -> Callable:
    def builder(limit, schema, root) -> Check:
        def check(instance, where):
            if not isinstance(instance, str) or test(len(instance), limit):
                return []
            return [f"{where}: length {len(instance)} is not {words} {limit}"]

        return check

    return builder


def _pattern(value, schema, root) -> Check:
    regex = re.compile(value)

    def check(instance, where):
        if not isinstance(instance, str) or regex.search(instance):
            return []
        return [f"{where}: {instance!r:.60} does not match {value}"]

    return check


def _items(value, schema, root) -> Check:
    child = _compile(value, root)

    def check(instance, where):
        if not isinstance(instance, list):
            return []
        errors: list[str] = []
        for index, item in enumerate(instance):
            errors += child(item, f"{where}[{index}]")
        return errors

    return check


def _min_items(value, schema, root) -> Check:
    def check(instance, where):
        if not isinstance(instance, list) or len(instance) >= value:
            return []
        return [f"{where}: fewer than {value} items"]

    return check


def _any_of(value, schema, root) -> Check:
    options = [_compile(sub, root) for sub in value]

    def check(instance, where):
        reasons: list[str] = []
        for option in options:
            errors = option(instance, where)
            if not errors:
                return []
            reasons += errors
        return [f"{where}: matches none of its alternatives ({'; '.join(reasons)})"]

    return check


_KEYWORDS: dict[str, Callable] = {
    "type": _type,
    "properties": _properties,
    "enum": _enum,
    "const": _const,
    "minimum": _bound(lambda v, m: v >= m, "at least"),
    "maximum": _bound(lambda v, m: v <= m, "at most"),
    "exclusiveMinimum": _bound(lambda v, m: v > m, "above"),
    "exclusiveMaximum": _bound(lambda v, m: v < m, "below"),
    "minLength": _length(lambda n, m: n >= m, "at least"),
    "maxLength": _length(lambda n, m: n <= m, "at most"),
    "pattern": _pattern,
    "items": _items,
    "minItems": _min_items,
    "anyOf": _any_of,
}
