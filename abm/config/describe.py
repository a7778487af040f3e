"""``abm config show``: a resolved config as YAML, every key with its value and, as a comment,
what it accepts (from the field's constraints) and what it means (its description)."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from abm.config.model import ModelConfig


def _number(value: float) -> str:
    """A bound as people write it: 8,760 and 1,000,000,000, not 8760.0 and 1e+09."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _allowed(info: FieldInfo) -> str:
    """What a field accepts, from its type and its pydantic constraints (ge, gt, le, lt and
    lengths): ``0 < x <= 8,760``, ``one of: last, index_basis``, ``true or false``."""
    annotation = info.annotation
    args = get_args(annotation)
    if get_origin(annotation) is tuple and args and get_origin(args[0]) is Literal:
        return "a list of: " + ", ".join(map(str, get_args(args[0])))
    if get_origin(annotation) is Literal:
        return "one of: " + ", ".join(map(str, args))
    if annotation is bool:
        return "true or false"
    lower = upper = None
    parts = []
    for rule in info.metadata:
        for attr, op in (("gt", "<"), ("ge", "<=")):
            if getattr(rule, attr, None) is not None:
                lower = (op, _number(getattr(rule, attr)))
        for attr, op in (("lt", "<"), ("le", "<=")):
            if getattr(rule, attr, None) is not None:
                upper = (op, _number(getattr(rule, attr)))
        for attr, text in (("min_length", "at least"), ("max_length", "at most")):
            count = getattr(rule, attr, None)
            if count is not None:
                parts.append(f"{text} {count} item{'' if count == 1 else 's'}")
    if lower and upper:
        parts.insert(0, f"{lower[1]} {lower[0]} x {upper[0]} {upper[1]}")
    elif lower:
        parts.insert(0, f"x {lower[0].replace('<', '>')} {lower[1]}")
    elif upper:
        parts.insert(0, f"x {upper[0]} {upper[1]}")
    kinds = {int: "integer", float: "number", str: "text"}
    kind = kinds.get(annotation) or next((kinds[a] for a in args if a in kinds), None)
    if get_origin(annotation) is tuple and args and args[0] in kinds:
        parts.insert(0, f"list of {kinds[args[0]]}s")
    elif kind == "integer" or (kind and not (lower or upper)):
        parts.insert(0, kind)
    if type(None) in args:
        parts.append("or null")
    return ", ".join(parts)


def yaml_scalar(value: Any) -> str:
    """A value as YAML writes it (``.inf``, ``null``, ``[1, 2]``), so that it can be copied into
    a config file."""
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True)
    return text.strip().removesuffix("\n...")


def _describe(model: BaseModel, indent: str, first: str = "") -> list[tuple[str, str]]:
    """(``key: value`` line, comment) pairs of a section, nested sections and lists of them
    indented; ``first`` replaces the indent of the first line (a list item's ``- ``)."""
    rows: list[tuple[str, str]] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        lead = first or indent
        first = ""
        comment = "; ".join(p for p in (_allowed(info), info.description or "") if p)
        if isinstance(value, BaseModel):
            doc = (type(value).__doc__ or "").strip().split("\n\n")[0].replace("``", "")
            rows.append((f"{lead}{name}:", comment or " ".join(doc.split())))
            rows += _describe(value, indent + "  ")
        elif isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
            rows.append((f"{lead}{name}:", comment))
            for item in value:
                rows += _describe(item, indent + "    ", first=indent + "  - ")
        else:
            rows.append((f"{lead}{name}: {yaml_scalar(value)}", comment))
    return rows


def describe_config(config: ModelConfig) -> str:
    """A resolved config as YAML, every key with its value and, as a comment, what it accepts
    (from the field's constraints) and what it means (its description): ``abm config show``.
    Section lines carry the first paragraph of the section's docstring."""
    rows = _describe(config, "")
    width = min(max(len(text) for text, _ in rows) + 2, 48)
    return "\n".join(
        f"{text:<{width - 2}}  # {comment}" if comment else text for text, comment in rows
    )
