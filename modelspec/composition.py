"""`extends:`: a spec written as the changes to another spec file.

``extends: base.yaml`` (relative to the spec's folder, under the path policy of pretrained weights,
docs/security.md) reads the base, itself perhaps extending another, and merges the spec into it: mappings merge
key by key, any other value (a list, a scalar) replaces the base's, and ``null`` deletes the base's key. The
composed document keeps every value located in the file it was written in (``Document.origins``), so findings
point at the base's lines for what the base wrote, and its inline ignores apply. A relative `pretrained.path`
written in a base is rebased onto the spec's folder. Pure Python; no TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from modelspec import source
from modelspec.diagnostics import SpecError, did_you_mean, error
from modelspec.pretrained.checks import contained

EXTENDS = "extends"


def compose(doc: source.Document, limits: Optional[source.Limits] = None) -> source.Document:
    """``doc`` merged into the spec it extends (and so on up the chain); ``doc`` itself without `extends:`.

    Raises:
        SpecError: the base is missing, unreadable, invalid YAML, outside the spec's tree, or the chain is a cycle
            or longer than ``Limits.max_extends``; located at the `extends:` that names it.
    """
    if EXTENDS not in doc.data:
        return doc
    return _compose(doc, limits or source.Limits.from_env(), [])


def _folder(doc: source.Document) -> Path:
    return Path(doc.path).parent if not doc.path.startswith("<") else Path.cwd()


def _compose(doc: source.Document, limits: source.Limits, chain: list[str]) -> source.Document:
    here = os.path.realpath(doc.path) if not doc.path.startswith("<") else doc.path
    chain = [*chain, here]
    written = doc.data.get(EXTENDS)
    where = doc.value_locations.get((EXTENDS,), doc.locate((EXTENDS,)))

    def refuse(message: str, hint: Optional[str] = None) -> SpecError:
        return SpecError([error(doc.path, *where, message, layer=EXTENDS, hint=hint)])

    if not isinstance(written, str) or not written:
        raise refuse(f"extends must name one spec file, relative to this one (received: {written!r})")
    found = contained(_folder(doc), written, EXTENDS)
    if isinstance(found, str):
        raise refuse(found)
    if os.path.realpath(found) in chain:
        cycle = " -> ".join(Path(p).name for p in [*chain[chain.index(os.path.realpath(found)) :], str(found)])
        raise refuse(f"extends makes a cycle ({cycle}): a spec cannot extend itself")
    if len(chain) > limits.max_extends:
        raise refuse(f"extends chains more than {limits.max_extends} files")
    if not found.is_file():
        siblings = sorted(p.name for p in found.parent.glob("*.y*ml")) if found.parent.is_dir() else []
        raise refuse(
            f"extends names no file: {written!r} (looked in {found.parent}){did_you_mean(found.name, siblings)}"
        )
    shown = os.path.relpath(found) if not os.path.isabs(doc.path) else str(found)
    base = source.read(shown, limits)
    if base.problems:
        raise SpecError(base.problems)
    if EXTENDS in base.data:
        base = _compose(base, limits, chain)
    return _merge(base, doc, _folder(doc))


def _merge(base: source.Document, doc: source.Document, folder: Path) -> source.Document:
    """``doc`` (without its `extends:`) merged into ``base``, each value keeping its file's locations."""
    from_base: list[tuple] = []  # paths whose whole value the base gave
    data = _merged(base.data, {k: v for k, v in doc.data.items() if k != EXTENDS}, (), from_base)
    _rebase_weights(data, base, doc, folder, from_base)
    key_locations = {p: loc for p, loc in doc.key_locations.items() if p[:1] != (EXTENDS,)}
    value_locations = {p: loc for p, loc in doc.value_locations.items() if p[:1] != (EXTENDS,)}
    origins = dict(doc.origins)
    for root in from_base:
        for ours, theirs in ((key_locations, base.key_locations), (value_locations, base.value_locations)):
            for path, location in theirs.items():
                if path[: len(root)] == root:
                    ours[path] = location
        origins[root] = base.origins.get(root, source.Origin(base.path))
        origins.update({p: o for p, o in base.origins.items() if p[: len(root)] == root})
    if () not in value_locations:
        value_locations[()] = doc.value_locations.get((), (1, 1))
    return source.Document(
        doc.path,
        doc.text,
        data,
        key_locations,
        value_locations,
        list(doc.problems),
        edited=doc.edited,
        origins=origins,
        texts={**base.texts, base.path: base.text, **doc.texts},
    )


def _merged(base: Any, ours: Any, path: tuple, from_base: list) -> Any:
    """Mappings merge key by key; anything else of ours replaces the base's; ``None`` deletes the key."""
    result = {}
    for key, value in base.items():
        if key in ours:
            mine = ours[key]
            if mine is None:
                continue
            if isinstance(mine, dict) and isinstance(value, dict):
                result[key] = _merged(value, mine, path + (key,), from_base)
            else:
                result[key] = mine
        else:
            result[key] = value
            from_base.append(path + (key,))
    for key, mine in ours.items():
        if key not in base and mine is not None:
            result[key] = mine
    return result


def _rebase_weights(data: dict, base: source.Document, doc: source.Document, folder: Path, from_base: list) -> None:
    """A relative `pretrained.path` the base wrote is relative to the base's folder: write it from ``folder``."""
    pretrained = data.get("pretrained")
    if not isinstance(pretrained, dict) or not isinstance(pretrained.get("path"), str):
        return
    if not any(("pretrained", "path")[: len(root)] == root for root in from_base):
        return
    text = pretrained["path"]
    if os.path.isabs(text) or "\\" in text:
        return  # the path policy refuses it with its own message
    target = os.path.normpath(os.path.join(os.path.abspath(_folder(base)), text))
    pretrained["path"] = Path(os.path.relpath(target, os.path.abspath(folder))).as_posix()
