"""Load a planned pretrained-weights file into the Keras model modelspec built, then freeze what the plan says."""

from __future__ import annotations

from typing import Optional

from modelspec.errors import WeightsError
from modelspec.loader import ModelSpec
from modelspec.pretrained.checks import ensure_usable
from modelspec.pretrained.files import open_source, read
from modelspec.pretrained.plan import Plan, make_plan, shape_text


def load_into(model, loaded: ModelSpec, weights=None) -> Optional[Plan]:
    """Load the planned layers' arrays into ``model`` (built by modelspec from ``loaded``), then freeze."""
    usable = ensure_usable(loaded, weights)
    if usable is None:
        return None
    block, path = usable
    with open_source(path) as (source, handle):
        plan = make_plan(loaded, source, block)
        for row in plan.loaded:
            layer = model.get_layer(row.layer)
            arrays = read(source, handle, row.source)
            if source.named and row.variables and row.variables[0].expected is not None:
                by_name = {e.name: a for e, a in zip(source.layers[row.source], arrays)}
                arrays = [by_name[v.name] for v in row.variables]
            targets = layer.weights
            if len(targets) != len(arrays):
                raise WeightsError(
                    f"layer '{row.layer}' (from '{row.source}' in {path}): variable count mismatch: "
                    f"Keras built {len(targets)}, found {len(arrays)}"
                )
            for variable, array in zip(targets, arrays):
                if tuple(variable.shape) != tuple(array.shape):
                    raise WeightsError(
                        f"layer '{row.layer}' (from '{row.source}' in {path}): shape mismatch for "
                        f"{variable.path}: expected {shape_text(tuple(variable.shape))}, found "
                        f"{shape_text(tuple(array.shape))}"
                    )
            for variable, array in zip(targets, arrays):
                variable.assign(array.astype(variable.dtype, copy=False))
    for row in plan.layers:
        if not row.trainable:
            model.get_layer(row.layer).trainable = False
    return plan
