"""Execute a pretrained-weights plan on the Keras model modelspec built: load the planned layers, then freeze.

The plan (modelspec/pretrained/plan.py) was made before TensorFlow started, and is the one `build`, `train` and the
others printed; this module follows it row by row and plans nothing again.
"""

from __future__ import annotations

from modelspec.errors import WeightsError
from modelspec.pretrained.files import open_source, read
from modelspec.pretrained.plan import Plan, shape_text


def load_into(model, plan: Plan) -> None:
    """Load the arrays of the plan's loaded rows into ``model`` (built by modelspec from the planned spec), then
    freeze the rows the plan freezes."""
    path = plan.path
    with open_source(path) as (source, handle):
        for row in plan.loaded:
            if row.source not in source.layers:
                raise WeightsError(f"{path} changed after its plan was made: it no longer holds layer '{row.source}'")
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
