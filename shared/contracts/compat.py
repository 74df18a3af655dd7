"""Breaking-change detection between two JSON Schemas of one event version.

Within a version only additive changes are allowed. Breaking: a property removed, a property
made required that was not, a property's type changed, an enum value removed.

Some additive changes are still refused by a consumer built on the older schema: a new enum
value, a type widened (null allowed, say), a length or range limit relaxed. They need the
consumers deployed before the producer (:func:`consumers_first_changes` names them).

``python -m shared.contracts.compat --write DIR`` rewrites the committed snapshots.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _types(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return set().union(*(_types(s, root) for s in schema["anyOf"]))
    if "enum" in schema or "const" in schema:
        return {"enum"}
    found = schema.get("type")
    if isinstance(found, list):
        return set(found)
    return {str(found)} if found else {"any"}


def breaking_changes(
    old: dict[str, Any],
    new: dict[str, Any],
    path: str = "",
    *,
    roots: tuple[Any, Any] | None = None,
) -> list[str]:
    old_root, new_root = roots or (old, new)
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems: list[str] = []
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if not old_types <= new_types:
        problems.append(f"{path or '$'}: type changed {sorted(old_types)} -> {sorted(new_types)}")
    old_enum, new_enum = set(map(str, old.get("enum", []))), set(map(str, new.get("enum", [])))
    if old_enum - new_enum and new.get("enum") is not None:
        problems.append(f"{path or '$'}: enum values removed {sorted(old_enum - new_enum)}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, sub in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: removed")
        else:
            problems += breaking_changes(
                sub, new_props[name], f"{path}.{name}", roots=(old_root, new_root)
            )
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        problems.append(f"{path}.{name}: became required")
    if "items" in old and "items" in new:
        problems += breaking_changes(
            old["items"], new["items"], f"{path}[]", roots=(old_root, new_root)
        )
    for key in ("anyOf",):
        for index, (a, b) in enumerate(zip(old.get(key, []), new.get(key, []), strict=False)):
            if _resolve(a, old_root).get("properties") or _resolve(b, new_root).get("properties"):
                problems += breaking_changes(a, b, f"{path}<{index}>", roots=(old_root, new_root))
    return problems


_RELAXED_WHEN_HIGHER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")
_RELAXED_WHEN_LOWER = ("minLength", "minimum", "exclusiveMinimum", "minItems")


def _relaxed_limits(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    found: list[str] = []
    for key in (*_RELAXED_WHEN_HIGHER, *_RELAXED_WHEN_LOWER):
        if key not in old:
            continue
        before, after = old[key], new.get(key)
        higher = key in _RELAXED_WHEN_HIGHER
        if after is None or (after > before if higher else after < before):
            found.append(f"{path or '$'}: {key} relaxed {before} -> {after}")
    return found


def consumers_first_changes(
    old: dict[str, Any],
    new: dict[str, Any],
    path: str = "",
    *,
    roots: tuple[Any, Any] | None = None,
) -> list[str]:
    """Changes a consumer on the ``old`` schema would refuse in an event of the ``new`` one
    (it would dead-letter it): deploy the consumers before the producer."""
    old_root, new_root = roots or (old, new)
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    found: list[str] = []
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if "any" not in old_types and new_types - old_types:
        found.append(f"{path or '$'}: type widened {sorted(old_types)} -> {sorted(new_types)}")
    if old.get("enum") is not None:
        added = set(map(str, new.get("enum", []))) - set(map(str, old["enum"]))
        if added or new.get("enum") is None:
            found.append(f"{path or '$'}: enum values added {sorted(added) or 'any'}")
    found += _relaxed_limits(old, new, path)
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, sub in old_props.items():
        if name in new_props:
            found += consumers_first_changes(
                sub, new_props[name], f"{path}.{name}", roots=(old_root, new_root)
            )
    if "items" in old and "items" in new:
        found += consumers_first_changes(
            old["items"], new["items"], f"{path}[]", roots=(old_root, new_root)
        )
    for index, (a, b) in enumerate(zip(old.get("anyOf", []), new.get("anyOf", []), strict=False)):
        found += consumers_first_changes(a, b, f"{path}<{index}>", roots=(old_root, new_root))
    return found


def snapshot_name(event_type: str) -> str:
    return f"{event_type}.json"


def write_snapshots(directory: Path) -> None:
    from shared.contracts import EVENT_TYPES

    directory.mkdir(parents=True, exist_ok=True)
    for contract in EVENT_TYPES.values():
        schema = contract.model.model_json_schema()
        (directory / snapshot_name(contract.type)).write_text(
            json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        )
        print("wrote", contract.type)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", type=Path, required=True)
    write_snapshots(parser.parse_args().write)
