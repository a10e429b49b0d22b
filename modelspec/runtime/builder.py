"""Compile an analysed spec into a Keras 3 functional model, and save it atomically.

The checks that come before (parameter budget, pretrained block, lint gate) are modelspec/pipeline.py's; this
module only turns what passed them into Keras objects.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any, Optional

from modelspec.analysis import LayerInfo
from modelspec.analysis.seeds import derive_seed
from modelspec.atomic import replacing
from modelspec.loader import ModelSpec
from modelspec.pretrained.plan import Plan
from modelspec.runtime import weights as pretrained
from modelspec.runtime.tensorflow_env import import_keras
from modelspec.schema.initializers import InitializerBase


def make_initializer(spec: InitializerBase, seed: Optional[int]):
    """Return the Keras initializer for a resolved (never `auto`) initializer spec."""
    keras = import_keras()
    params = spec.model_dump(exclude={"type", "seed"})
    if spec.SEEDED:
        params["seed"] = spec.seed if spec.seed is not None else seed
    return getattr(keras.initializers, spec.KERAS_CLASS)(**params)


def _keras_object(module: str, spec) -> Any:
    """Build a regularizer, constraint, optimizer or schedule from its model: class + remaining fields."""
    params = {k: v for k, v in spec.model_dump(exclude={"type"}).items() if v is not None}
    return getattr(getattr(import_keras(), module), spec.KERAS_CLASS)(**params)


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _layer_kwargs(spec, name: str, initializers: dict, model_seed: Optional[int], seed_prefix: str = "") -> dict:
    """Turn a layer model into Keras constructor arguments, with a distinct derived seed per initializer."""
    kwargs: dict[str, Any] = {"name": name}
    for field in type(spec).model_fields:
        value = getattr(spec, field)
        if field in ("type", "inputs", "name", "layer", "trainable"):
            continue  # `trainable` is set after the layer is built (see `_freeze`)
        if field.endswith("_initializer"):
            value = make_initializer(initializers[field], derive_seed(model_seed, name, seed_prefix + field))
        elif field.endswith("_regularizer") and value is not None:
            value = _keras_object("regularizers", value)
        elif field.endswith("_constraint") and value is not None:
            value = _keras_object("constraints", value)
        elif field == "seed" and value is None:
            value = derive_seed(model_seed, name, seed_prefix + "seed")
            if value is None:
                continue
        kwargs[field] = _tuples(value)
    return kwargs


def _make_layer(info: LayerInfo, model_seed: Optional[int]):
    keras = import_keras()
    spec = info.spec
    if spec.type == "layer_scale":
        from modelspec.runtime.layers import LayerScale

        return LayerScale(**_layer_kwargs(spec, info.name, info.initializers, model_seed))
    if spec.type == "keras":
        config = {k: _tuples(v) for k, v in spec.config.items()}
        return getattr(keras.layers, spec.class_name)(name=info.name, **config)
    if spec.type == "bidirectional":
        inner = spec.layer
        cls = getattr(keras.layers, inner.KERAS_CLASS)
        forward = cls(
            **_layer_kwargs(inner, f"forward_{info.name}", _per_direction(info.initializers, "forward"), model_seed)
        )
        backward_kwargs = _layer_kwargs(
            inner, f"backward_{info.name}", _per_direction(info.initializers, "backward"), model_seed
        )
        backward_kwargs["go_backwards"] = not inner.go_backwards
        return keras.layers.Bidirectional(
            forward, merge_mode=spec.merge_mode, backward_layer=cls(**backward_kwargs), name=info.name
        )
    return getattr(keras.layers, spec.KERAS_CLASS)(**_layer_kwargs(spec, info.name, info.initializers, model_seed))


def _per_direction(initializers: dict, direction: str) -> dict:
    """Derive a seed per direction from an explicit initializer seed of a bidirectional layer.

    The spec writes the seed once, but Keras gets two layers: used as is, it would start both directions
    from identical weights.
    """
    return {
        slot: spec.model_copy(update={"seed": derive_seed(spec.seed, direction, slot)})
        if getattr(spec, "seed", None) is not None
        else spec
        for slot, spec in initializers.items()
    }


def _freeze(layer) -> None:
    """Freeze a built layer.

    Set after building, not passed to the constructor: the setter also freezes the sublayers that
    multi_head_attention and bidirectional create (a constructor argument leaves them trainable), and some
    Keras layers (SpatialDropout1D) do not accept the argument at all.
    """
    layer.trainable = False


def _reseed_attention(layer, info: LayerInfo, model_seed: Optional[int]) -> None:
    """Give each of attention's four projections its own seed.

    Keras clones one initializer config into the query, key, value and output projections; with a fixed seed
    they would all start from the same values. Re-draw each variable with a seed derived from its own path.
    """
    for variable in layer.weights:
        *_, part, kind = variable.path.split("/")  # e.g. "attention/query/kernel"
        slot = "kernel_initializer" if kind == "kernel" else "bias_initializer"
        spec = info.initializers[slot]
        base = spec.seed if getattr(spec, "seed", None) is not None else model_seed
        if not spec.SEEDED or base is None:
            continue
        initializer = make_initializer(
            spec.model_copy(update={"seed": None}), derive_seed(base, info.name, f"{part}/{kind}")
        )
        variable.assign(initializer(tuple(variable.shape), dtype=variable.dtype))


def compile_model(loaded: ModelSpec, *, seed: Optional[int] = None, plan: Optional[Plan] = None):
    """Build the ``keras.Model`` a loaded spec describes, execute its pretrained ``plan`` (made and checked by
    ``modelspec.pipeline.prepare`` before TensorFlow started) and compile it with its `training:` block. ``seed``
    overrides the spec's.
    """
    from modelspec.runtime import layers as _registered  # noqa: F401 - modelspec's own layers, for load_model

    keras = import_keras()
    analysis = loaded.analysis
    model_seed = seed if seed is not None else loaded.spec.seed

    tensors = {
        name: keras.Input(shape=info.shape, dtype=info.dtype, name=name) for name, info in analysis.inputs.items()
    }
    reseed = []
    for name, info in analysis.layers.items():
        layer = _make_layer(info, model_seed)
        args = [tensors[ref] for ref in info.inputs]
        if info.type == "multi_head_attention":
            tensors[name] = layer(*args) if len(args) > 1 else layer(args[0], args[0])
            reseed.append((layer, info))
        else:
            tensors[name] = layer(args if info.spec.MAX_INPUTS != 1 and len(args) > 1 else args[0])
        if info.spec.frozen:
            _freeze(layer)
    for layer, info in reseed:
        _reseed_attention(layer, info, model_seed)

    inputs = [tensors[name] for name in analysis.inputs]
    outputs = [tensors[name] for name in analysis.outputs]
    model = keras.Model(
        inputs=inputs[0] if len(inputs) == 1 else inputs,
        outputs=outputs[0] if len(outputs) == 1 else outputs,
        name=loaded.spec.name,
    )
    # Load, then freeze, then compile: compiling reads which variables are trainable.
    if plan is not None:
        pretrained.load_into(model, plan)
    for name, info in analysis.layers.items():
        if info.type == "normalization" and info.spec.adapted:
            # Its mean and variance are constants derived from the state variables, which loading assigned
            # directly (not through Keras's load_own_variables): derive them again.
            model.get_layer(name).finalize_state()
    if loaded.spec.training is not None:
        _compile(model, loaded.spec.training, analysis.outputs)
    return model


def _compile(model, training, output_names: list[str]) -> None:
    keras = import_keras()
    optimizer = training.optimizer
    params = {k: v for k, v in optimizer.model_dump(exclude={"type"}).items() if v is not None}
    schedule = training.learning_rate_schedule
    if schedule is not None:
        schedule_params = schedule.model_dump(exclude={"type"})
        if schedule.type != "piecewise_constant":
            schedule_params["initial_learning_rate"] = optimizer.learning_rate
        schedule_params = {k: v for k, v in schedule_params.items() if v is not None}
        params["learning_rate"] = getattr(keras.optimizers.schedules, schedule.KERAS_CLASS)(**schedule_params)

    def loss(spec):
        return getattr(keras.losses, spec.keras_class)(**spec.options())

    losses: Any = [loss(s) for s in training.output_losses(len(output_names))]
    if len(output_names) == 1 and not isinstance(training.loss, list):
        losses = losses[0]
    metrics: Any = list(training.metrics)
    if len(output_names) > 1:
        metrics = {name: list(training.metrics) for name in output_names} if metrics else None
    model.compile(optimizer=getattr(keras.optimizers, optimizer.KERAS_CLASS)(**params), loss=losses, metrics=metrics)
    # Create the optimizer's slots now, so the saved file matches what loading it recreates.
    model.optimizer.build(model.trainable_variables)


def save_atomic(model, path: os.PathLike | str, members: Optional[dict[str, str]] = None) -> None:
    """Save a model to ``path`` via a temporary file in the same folder, then rename: never a partial file.

    ``members`` go into the archive beside Keras's own files, which Keras ignores: the spec the model was built
    from (`modelspec/spec.yaml`) and the class names of text labels (`modelspec/classes.json`), which
    `modelspec evaluate MODEL.keras` reads to check data before TensorFlow starts.
    """
    with replacing(path, ".keras") as temporary:
        model.save(temporary)
        if members:
            with zipfile.ZipFile(temporary, "a") as archive:
                for name, text in members.items():
                    archive.writestr(name, text)
