"""The schema's base: :class:`StrictModel`, which every config section extends, the errors a
config raises, and how pydantic's validation errors are told to a user (one line per problem,
naming the dotted key and what is allowed)."""

from __future__ import annotations

import difflib
import re
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key and what is allowed."""


class SectionFileError(ConfigError):
    """A section given a text that names no file (``--set retail=count``)."""


def _takes_numbers_not_booleans(annotation: Any) -> bool:
    """Whether a field of this type holds numbers (``int``, ``float``, optionally ``None``)."""
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, UnionType):
        args = get_args(annotation)
        return bool not in args and any(_takes_numbers_not_booleans(a) for a in args)
    return False


def _holds_boolean_for_number(value: Any, annotation: Any) -> bool:
    """A YAML boolean (``on``, ``yes``, ``true``...) given where a number is expected, directly
    or as an item of a tuple of numbers."""
    if isinstance(value, bool):
        return _takes_numbers_not_booleans(annotation)
    args = get_args(annotation)
    if get_origin(annotation) is tuple and isinstance(value, list | tuple) and args:
        item = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        return item is not None and any(
            isinstance(v, bool) and _takes_numbers_not_booleans(item) for v in value
        )
    return False


class StrictModel(BaseModel):
    """Unknown keys are refused, numbers must be finite (a field that allows ``.inf`` says so)
    and a YAML boolean is never read as a number (``max_leverage: on`` is an error, not 1)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is not None and _holds_boolean_for_number(
            value, cls.model_fields[info.field_name].annotation
        ):
            raise ValueError(
                "must be a number, not a boolean (YAML reads true, false, on, off, yes and no "
                "as booleans)"
            )
        return value


def describe_errors(err: ValidationError, where: str) -> str:
    """One line per problem: the dotted key, what was wrong, and what is allowed.

    A list that is too short only because one of its items was refused (pydantic counts the
    items left after validation) is not reported on top of the item's own error."""
    lines = [f"invalid {where}:"]
    errors = err.errors()
    for e in errors:
        loc = tuple(e["loc"])
        if e["type"] == "too_short" and any(
            len(o["loc"]) > len(loc) and tuple(o["loc"][: len(loc)]) == loc for o in errors
        ):
            continue
        key = ".".join(str(p) for p in loc) or "(top level)"
        if not loc and e["type"] == "value_error":
            lines.append(f"  {e['msg'].removeprefix('Value error, ')}")
        elif e["type"] == "extra_forbidden":
            lines.append(f"  {unknown_key_message(err.title, loc)}")
        else:
            message = e["msg"].removeprefix("Value error, ")
            given = e.get("input")
            shown = "" if isinstance(given, dict | list | tuple) else f" (got {given!r})"
            first = re.match(r"([a-z_]+)[ .:]", message)
            if (
                e["type"] == "value_error"
                and first
                and first.group(1) in _section_keys(err.title, (*loc, ""))
            ):
                # A section's check naming one of its keys: the dotted key, not "retail: key".
                lines.append(f"  {key}.{message}")
            else:
                lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def _section_keys(model_name: str, loc: tuple) -> list[str]:
    """The valid keys of the section that holds the key at ``loc`` in the model named
    ``model_name`` (a config class); empty when the path cannot be followed."""
    models = {cls.__name__: cls for cls in StrictModel.__subclasses__()}
    model = models.get(model_name)
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        annotation = None if info is None else info.annotation
        if get_origin(annotation) is tuple and get_args(annotation):
            annotation = get_args(annotation)[0]
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return [] if model is None else list(model.model_fields)


def unknown_key_message(model_name: str, loc: tuple) -> str:
    """``whale: unknown key; did you mean whales?`` (the closest valid key of its section, by
    :func:`difflib.get_close_matches`), or the section's valid keys when none is close.

    >>> unknown_key_message("ModelConfig", ("whale",))
    'whale: unknown key; did you mean whales?'
    """
    key = ".".join(str(p) for p in loc)
    valid = _section_keys(model_name, loc)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    if close:
        suggestion = ".".join([*(str(p) for p in loc[:-1]), close[0]])
        return f"{key}: unknown key; did you mean {suggestion}?"
    if valid:
        return f"{key}: unknown key; allowed here: {', '.join(valid)}"
    return f"{key}: unknown key (check the spelling against abm config show)"
