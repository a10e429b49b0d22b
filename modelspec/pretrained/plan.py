"""The plan of a pretrained-weights load: for every weighted layer of the spec, what the file gives it (loaded,
frozen, skipped and why, or new), decided from the spec's analysis and the file's metadata alone.

Pure data, without TensorFlow: `modelspec build --plan` prints it, and ``modelspec.runtime.weights.load_into``
executes it on the model modelspec built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from modelspec.diagnostics import error
from modelspec.errors import SpecError, WeightsError
from modelspec.pretrained.checks import ensure_usable, freeze_patterns
from modelspec.pretrained.files import Entry, Source, open_source
from modelspec.schema.pretrained import Pretrained

if TYPE_CHECKING:
    from modelspec.loader import ModelSpec


@dataclass(frozen=True)
class VariablePlan:
    """One variable of our layer: the shape the spec gives it and the shape found in the file."""

    name: str
    expected: Optional[tuple[int, ...]]  # None: unknown until Keras builds the layer (opaque `type: keras`)
    found: Optional[tuple[int, ...]]


@dataclass(frozen=True)
class LayerPlan:
    """What happens to one weighted layer: loaded, frozen (loaded, then frozen), skipped (why) or new."""

    layer: str
    source: Optional[str]
    status: str
    trainable: bool
    variables: tuple[VariablePlan, ...]
    reason: Optional[str] = None

    @property
    def loads(self) -> bool:
        return self.status in ("loaded", "frozen")


@dataclass
class Plan:
    """The whole plan for one build: the file and one row per weighted layer."""

    path: Path
    kind: str
    layers: list[LayerPlan]
    unused: list[str]  # layers in the file that no layer of ours takes

    def count(self, status: str) -> int:
        return sum(1 for row in self.layers if row.status == status)

    @property
    def loaded(self) -> list[LayerPlan]:
        return [row for row in self.layers if row.loads]

    @property
    def frozen(self) -> frozenset[str]:
        """The layers the build freezes (``trainable`` false): `freeze` patterns, `freeze: true`, `trainable: false`."""
        return frozenset(row.layer for row in self.layers if not row.trainable)


def make_plan(loaded: ModelSpec, source: Source, block: Pretrained) -> Plan:
    """Decide, layer by layer, what loads from ``source``; raise on anything that would load wrongly.

    ``block`` has passed ``checks.check`` (``ensure_usable``): its `freeze` patterns compile.
    """
    patterns = [pattern for _, pattern in freeze_patterns(block)]
    path = source.path
    problems = []
    for key, target in block.map.items():
        if target not in source.layers:
            problems.append(
                loaded.document.error(
                    ("pretrained", "map", key),
                    f"map target {target!r} is not a layer with weights in {path}",
                    layer=f"pretrained.map.{key}",
                    hint=f"layers in the file: {listing(source.layers)}",
                )
            )
    if problems:
        raise SpecError(problems)

    rows, taken = [], set()
    for name, info in loaded.analysis.layers.items():
        if info.variables == []:
            continue
        origin = block.map.get(name, name)
        frozen = info.spec.frozen or any(p.fullmatch(name) for p in patterns)
        expected = [(v.name, v.shape) for v in info.variables] if info.variables is not None else None
        if origin not in source.layers:
            variables = tuple(VariablePlan(n, s, None) for n, s in expected or [])
            rows.append(LayerPlan(name, None, "new", not frozen, variables, "not in the file"))
            continue
        taken.add(origin)
        entries = source.layers[origin]
        variables, problem = _match(expected, entries, source.named)
        if problem:
            message = f"layer '{name}' (from '{origin}' in {path}): {problem}"
            if not block.skip_mismatch:
                raise WeightsError(message)
            rows.append(LayerPlan(name, origin, "skipped", not frozen, variables, problem))
            continue
        frozen = frozen or block.freeze is True
        rows.append(LayerPlan(name, origin, "frozen" if frozen else "loaded", not frozen, variables))
    plan = Plan(path, source.kind, rows, [name for name in source.layers if name not in taken])
    if not plan.loaded:
        skipped = plan.count("skipped")
        raise WeightsError(
            f"{path}: no layer would be loaded"
            + (f" ({skipped} skipped by skip_mismatch)" if skipped else "")
            + f"; layers in the file: {listing(source.layers)}; layers of the spec: "
            f"{listing([row.layer for row in rows])} (use `map` where names differ)"
        )
    return plan


def listing(names, limit: int = 12) -> str:
    """Name the first ``limit`` names, and how many more there are."""
    names = list(names)
    text = ", ".join(names[:limit]) or "none"
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _match(expected, entries: list[Entry], named: bool) -> tuple[tuple[VariablePlan, ...], Optional[str]]:
    """Pair our variables with the file's arrays: by name (npz) or by position (Keras files)."""
    if expected is None:  # opaque layer: Keras checks the shapes when loading
        return tuple(VariablePlan(e.name, None, e.shape) for e in entries), None
    if named:
        found = {e.name: e.shape for e in entries}
        variables = tuple(VariablePlan(n, s, found.get(n)) for n, s in expected)
        missing = [n for n, _ in expected if n not in found]
        extra = [e.name for e in entries if e.name not in dict(expected)]
        if missing or extra:
            return variables, (
                "variables do not match: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"unexpected {', '.join(extra)}" if extra else "",
                    )
                    if part
                )
                + f" (expected: {', '.join(n for n, _ in expected)})"
            )
    else:
        if len(entries) != len(expected):
            variables = tuple(
                VariablePlan(n, s, entries[i].shape if i < len(entries) else None) for i, (n, s) in enumerate(expected)
            )
            return variables, (
                f"variable count mismatch: expected {len(expected)} "
                f"({', '.join(n for n, _ in expected)}), found {len(entries)}"
            )
        variables = tuple(VariablePlan(n, s, e.shape) for (n, s), e in zip(expected, entries))
    for variable in variables:
        if variable.found != variable.expected:
            return variables, (
                f"shape mismatch for {variable.name}: expected {shape_text(variable.expected)}, "
                f"found {shape_text(variable.found)}"
            )
    return variables, None


def shape_text(shape) -> str:
    """Render a variable's shape as ``(3, 4)``; ``?`` when unknown."""
    if shape is None:
        return "?"
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def plan_for(loaded: ModelSpec, weights=None) -> Plan:
    """Compute the plan without loading any array (no TensorFlow). Raise when there is nothing to plan."""
    usable = ensure_usable(loaded, weights)
    if usable is None:
        line, column = loaded.document.locate(())
        raise SpecError(
            [error(loaded.path, line, column, "the spec has no `pretrained:` block and no --weights file was given")]
        )
    block, path = usable
    with open_source(path) as (source, _):
        return make_plan(loaded, source, block)
