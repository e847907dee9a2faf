"""Typed parsing of YAML values and command-line flags into the keyword arguments of a config dataclass.

Kept apart from :mod:`hf_ser.training.config` so the dataclass holds fields and validation only. Nothing
here knows :class:`~hf_ser.training.config.TrainConfig`: every function takes the *schema* — the mapping
``{key: annotation}`` built from the dataclass' type hints — so the rules are written once, as a table of
one small converter per annotation (``bool``, ``int``, ``float``, ``str``, ``list``, ``dict``), with
``Optional`` / ``Union`` annotations trying their members in order.

Why not :class:`transformers.HfArgumentParser`: it rejects bare ``list`` / ``dict`` annotations, has no
dotted ``--model.KEY`` flags into a mapping field and no "did you mean" hint for an unknown key, so it
would need as much glue as this module holds.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Callable, Optional, Union

import yaml

NONE_STRINGS = ("none", "null", "~")
TRUE_STRINGS = ("true", "yes", "1")
FALSE_STRINGS = ("false", "no", "0")


def _to_bool(key: str, value: Any) -> bool:
    """``true``/``false`` (or yes/no, 1/0 as strings) -> ``bool``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in TRUE_STRINGS + FALSE_STRINGS:
        return value.lower() in TRUE_STRINGS
    raise ValueError(f"`{key}` expects true/false, got {value!r}")


def _to_int(key: str, value: Any) -> int:
    """An integer, a whole float (``10.0``) or a string of digits -> ``int``; booleans are rejected."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise ValueError(f"`{key}` expects an integer, got {value!r}")


def _to_float(key: str, value: Any) -> float:
    """A number or a numeric string -> ``float``; booleans are rejected."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"`{key}` expects a number, got {value!r}")


def _to_str(key: str, value: Any) -> str:
    """Strings only (a YAML number for a string key is a mistake worth reporting)."""
    if isinstance(value, str):
        return value
    raise ValueError(f"`{key}` expects a string, got {value!r}")


def _to_list(key: str, value: Any) -> list:
    """A YAML list, or from a flag either a YAML list (``[0.9, 1.1]``) or comma-separated items."""
    if isinstance(value, str):
        parsed = yaml.safe_load(value)
        value = parsed if isinstance(parsed, list) else [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ValueError(f"`{key}` expects a list, got {value!r}")


def _to_dict(key: str, value: Any) -> dict:
    """A YAML mapping, or from a flag a YAML/JSON mapping string (``{a: 1}``)."""
    if isinstance(value, str):
        value = yaml.safe_load(value)
    if isinstance(value, dict):
        return dict(value)
    raise ValueError(f"`{key}` expects a mapping, got {value!r}")


# One converter per (origin of the) annotation: ``list[str]`` converts like ``list``.
COERCERS: dict[Any, Callable[[str, Any], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    list: _to_list,
    dict: _to_dict,
}


def _is_union(annotation: Any) -> bool:
    """Whether ``annotation`` is ``Optional[X]`` / ``Union[X, Y]`` / ``X | Y``."""
    return typing.get_origin(annotation) in (Union, types.UnionType)


def _is_none(value: Any) -> bool:
    """``None`` itself or its YAML / command-line spellings (``none``, ``null``, ``~``)."""
    return value is None or (isinstance(value, str) and value.lower() in NONE_STRINGS)


def _coerce_union(key: str, value: Any, annotation: Any) -> Any:
    """``None`` when the union allows it, else the first member type that accepts ``value``."""
    members = typing.get_args(annotation)
    if _is_none(value) and type(None) in members:
        return None
    errors = []
    for member in (m for m in members if m is not type(None)):
        try:
            return coerce(key, value, member)
        except ValueError as error:
            errors.append(str(error))
    raise ValueError(f"Bad value {value!r} for `{key}`: " + "; ".join(errors))


def coerce(key: str, value: Any, annotation: Any) -> Any:
    """Convert a YAML/CLI value to the field's type, or raise a ValueError naming the key."""
    if _is_union(annotation):
        return _coerce_union(key, value, annotation)
    converter = COERCERS.get(typing.get_origin(annotation) or annotation)
    if converter is None:
        raise TypeError(f"Unsupported annotation {annotation!r} for `{key}`")
    return converter(key, value)


def unknown_key_error(key: str, known: list[str], source: str) -> ValueError:
    """The error for an unknown key: where it came from, the closest known key and all known keys."""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(f"Unknown config key {key!r} ({source}).{hint} Known keys: {', '.join(known)}.")


def _is_mapping(annotation: Any) -> bool:
    """Whether a field holds a mapping, so dotted keys (``model.hidden_size``) may set its entries."""
    return annotation in (dict, Optional[dict])


def assign(
    data: dict[str, Any], key: str, value: Any, schema: dict[str, Any], source: str = "override"
) -> None:
    """Set ``data[key] = value`` with type coercion; ``a.b`` sets key ``b`` of the mapping ``a``.

    Entries of a mapping keep their YAML type (a string from a flag is read as YAML: ``64`` -> 64);
    the model's own config class checks them later.
    """
    head, _, rest = key.partition(".")
    if head not in schema:
        raise unknown_key_error(head, list(schema), source)
    if not rest:
        data[head] = coerce(head, value, schema[head])
        return
    if not _is_mapping(schema[head]):
        raise ValueError(f"`{head}` is not a mapping, so `{key}` ({source}) is invalid.")
    mapping = dict(data.get(head) or {})
    mapping[rest] = yaml.safe_load(value) if isinstance(value, str) else value
    data[head] = mapping


def split_flags(argv: list[str]) -> list[tuple[str, Optional[str]]]:
    """``["--a", "1", "--b=2", "--flag"]`` -> ``[("a", "1"), ("b", "2"), ("flag", None)]``."""
    pairs: list[tuple[str, Optional[str]]] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or len(token) == 2:
            raise ValueError(
                f"Expected a flag like --key VALUE, got {token!r}. Run with --help for the keys."
            )
        name, eq, value = token[2:].partition("=")
        takes_next = not eq and i + 1 < len(argv) and not argv[i + 1].startswith("--")
        pairs.append((name, value if eq else argv[i + 1] if takes_next else None))
        i += 2 if takes_next else 1
    return pairs


def flag_value(key: str, value: Optional[str], schema: dict[str, Any]) -> str:
    """The value of flag ``--key``: as given, or ``"true"`` for a bare boolean flag (``--resume``).

    A bare flag of any other type is an error (an unknown key is reported as such first).
    """
    if value is not None:
        return value
    head = key.partition(".")[0]
    if head not in schema:
        raise unknown_key_error(head, list(schema), f"from --{key}")
    if schema[head] is not bool:
        raise ValueError(f"--{key} needs a value.")
    return "true"


def config_paths(pairs: list[tuple[str, Optional[str]]]) -> list[str]:
    """The YAML files named by ``--config`` flags, in order (each needs a path)."""
    paths = []
    for key, value in pairs:
        if key == "config":
            if value is None:
                raise ValueError("--config needs a path to a YAML file.")
            paths.append(value)
    return paths
