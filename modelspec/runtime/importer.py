"""A live ``keras.Model`` as a spec (``modelspec.from_keras``): its config and weights, read through Keras."""

from __future__ import annotations

import json
import os
from typing import Any, Optional, Union

from modelspec.importer.convert import Imported, import_config, import_file
from modelspec.runtime.tensorflow_env import import_keras

PathLike = Union[str, os.PathLike]


def from_keras(
    model: Any, output: Optional[PathLike] = None, *, weights_out: Optional[PathLike] = None, flat: bool = False
) -> Imported:
    """Import a Keras model as a spec: a ``keras.Model``, or the path of a `.keras` archive or JSON config.

    With ``output``, the spec is written there (atomically) and, for a model or an archive with weights, its
    weights to ``weights_out`` (default: ``<spec>.weights.h5`` beside it), which the spec's `pretrained:`
    block loads. The returned ``Imported`` holds the spec's text either way. Repeated parts of the graph are
    written as `blocks:`; ``flat=True`` writes one line per layer.

    Raises:
        UnsupportedModel: the model holds layers or settings a spec cannot express (every one is listed).
    """
    if isinstance(model, (str, os.PathLike)):
        return import_file(model, output, weights_out=weights_out, flat=flat)
    config = json.loads(model.to_json())
    compile_config = _compile_config(model)
    if compile_config:
        config["compile_config"] = compile_config
    return import_config(
        config,
        output,
        weights_out=weights_out,
        arrays=lambda layers: _arrays(model, layers) if model.weights else None,
        description=f"keras.Model {model.name!r}",
        flat=flat,
    )


def _compile_config(model) -> Optional[dict]:
    getter = getattr(model, "get_compile_config", None)
    config = getter() if getter is not None and getattr(model, "compiled", False) else None
    return json.loads(json.dumps(config, default=_serialize)) if config else None


def _serialize(value):
    return import_keras().saving.serialize_keras_object(value)


def _arrays(model, layers) -> dict:
    """Each spec layer's arrays, from the Keras layer it came from (found by its names down nested models)."""
    arrays = {}
    for name, origin in layers:
        layer = model
        for part in origin:
            layer = layer.get_layer(part)
        values = [(f"vars/{i}", variable.numpy()) for i, variable in enumerate(layer.weights)]
        if values:
            arrays[name] = values
    return arrays


__all__ = ["from_keras"]
