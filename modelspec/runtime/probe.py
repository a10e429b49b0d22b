"""Measure a built model at initialisation: one training-mode batch through every layer, and its gradients.

``measure`` runs the batch forward under a ``tf.GradientTape`` (dropout and batch normalisation in training mode,
as the optimizer's first step sees them), computes the compiled loss, and takes the gradient of that loss with
respect to every trainable weight and every layer's output. Per layer it keeps the output's mean and root mean
square, the share of dead ReLU units and of saturated sigmoid/tanh outputs, the gradient's RMS at the output and,
per weight, the weight's and its gradient's RMS. ``random_batch`` makes the batch when no data is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from modelspec.analysis.gradients import output_losses
from modelspec.runtime.tensorflow_env import import_keras
from modelspec.schema.activations import ACTIVATIONS
from modelspec.schema.training import BINARY, CATEGORICAL

SATURATION_MARGIN = 0.01  # an output within 1% of the range's ends is saturated: its derivative is nearly zero
UNKNOWN_STEPS = 10  # the length given to a dimension the spec leaves open (a sequence's time steps)


@dataclass
class WeightMeasure:
    """One trainable weight at initialisation: its RMS and the RMS of the loss's gradient with respect to it."""

    variable: str
    shape: tuple[int, ...]
    weight_rms: float
    gradient_rms: Optional[float]  # None: the loss does not depend on it
    is_kernel: bool = False  # a kernel, as the analysis says (LayerInfo.kernel_variables)


@dataclass
class LayerMeasure:
    """One layer's output on the batch, and the gradients the loss sends back to it."""

    name: str
    mean: float
    rms: float
    dead: Optional[float] = None  # share of units zero for every example (relu, relu6 layers only)
    saturated: Optional[float] = None  # share of outputs within 1% of the activation's bounds (sigmoid, tanh...)
    output_gradient_rms: Optional[float] = None
    weights: list[WeightMeasure] = field(default_factory=list)


@dataclass
class Measured:
    """What one training-mode batch showed: per layer (in the spec's order), the loss, and the RMS of the inputs
    that hold numbers (0 when every input is token ids)."""

    layers: dict[str, LayerMeasure]
    loss: Optional[float]
    input_rms: float


def _rms(array) -> float:
    import numpy as np

    values = np.asarray(array, dtype=np.float64)
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else 0.0


def _shape(shape, batch: int) -> tuple[int, ...]:
    return (batch, *(UNKNOWN_STEPS if d is None else d for d in shape))


def random_batch(loaded, batch: int, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Inputs that are standard normal where the analysis assumes standardised data (after a `rescaling` layer
    straight after the input, when there is one), token ids below the embedding's input_dim, and random labels
    that fit each output's loss: class numbers or one-hot rows, 0/1 targets, or standard-normal values."""
    import numpy as np

    rng = np.random.default_rng(seed)
    analysis = loaded.analysis
    inputs = {}
    for name, info in analysis.inputs.items():
        shape = _shape(info.shape, batch)
        consumers = [layer for layer in analysis.layers.values() if name in layer.inputs]
        if info.dtype.startswith(("int", "uint")) or info.dtype == "bool":
            top = min((getattr(c.spec, "input_dim", 2) for c in consumers), default=2)
            inputs[name] = rng.integers(0, top, size=shape).astype(info.dtype)
            continue
        values = rng.standard_normal(shape)
        if len(consumers) == 1 and consumers[0].type == "rescaling":  # so that the rescaled values are standard
            values = (values - consumers[0].spec.offset) / consumers[0].spec.scale
        inputs[name] = values.astype(info.dtype)
    targets = {}
    for name, loss in output_losses(analysis).items():
        shape = _shape(analysis.layers[name].output_shape, batch)
        units = shape[-1]
        if loss is not None and loss.kind == CATEGORICAL and loss.type == "sparse_categorical_crossentropy":
            targets[name] = rng.integers(0, max(units, 2), size=shape[:-1])
        elif loss is not None and loss.kind == CATEGORICAL:
            targets[name] = np.eye(units, dtype="float32")[rng.integers(0, units, size=shape[:-1])]
        elif loss is not None and loss.kind == BINARY:
            targets[name] = rng.integers(0, 2, size=shape).astype("float32")
        else:
            targets[name] = rng.standard_normal(shape).astype("float32")
    return inputs, targets


def _unit_shares(info, values) -> tuple[Optional[float], Optional[float]]:
    """(share of dead units, share of saturated outputs) of a layer's output, where its activation has them."""
    import numpy as np

    activation = ACTIVATIONS.get(info.spec.applied_activation())
    if activation is None:
        return None, None
    if activation.dies and values.ndim >= 2:
        per_unit = values.reshape(-1, values.shape[-1])
        return float(np.mean(np.all(per_unit == 0, axis=0))), None
    if activation.saturation_bounds is not None:
        low, high = activation.saturation_bounds
        margin = SATURATION_MARGIN * (high - low)
        return None, float(np.mean((values <= low + margin) | (values >= high - margin)))
    return None, None


def _weights(layer, info, gradients: dict[int, Any]) -> list[WeightMeasure]:
    weights = list(layer.weights)
    names = [v.name for v in info.variables] if info.variables and len(info.variables) == len(weights) else None
    result = []
    for index, variable in enumerate(weights):
        if not variable.trainable:
            continue
        name = names[index] if names else variable.path.split("/", 1)[-1]
        gradient = gradients.get(id(variable))
        result.append(
            WeightMeasure(
                name,
                tuple(int(d) for d in variable.shape),
                _rms(variable.numpy()),
                None if gradient is None else _rms(gradient),
                names is not None and name in info.kernel_variables,
            )
        )
    return result


def compile_assumed(keras_model, loaded, targets: dict[str, Any]) -> None:
    """Compile a model whose spec has no training block with the losses the backward analysis assumes for it,
    so that the probe measures the gradients the linter predicts (no optimizer step is ever taken). Class
    numbers (data's labels) take the sparse form of categorical cross-entropy: the same loss and gradient."""
    losses = []
    for name, loss in output_losses(loaded.analysis).items():
        numbers = targets[name].ndim < len(loaded.analysis.layers[name].output_shape) + 1
        losses.append("sparse_" + loss.type if loss.type == "categorical_crossentropy" and numbers else loss.type)
    keras_model.compile(optimizer="sgd", loss=losses[0] if len(losses) == 1 else losses)


def measure(keras_model, loaded, inputs: dict[str, Any], targets: Optional[dict[str, Any]]) -> Measured:
    """Run one training-mode batch through ``keras_model`` (built from ``loaded``) and measure every layer.

    ``targets`` (per output) give the loss and the gradients; without them (a spec with no `training:` block) only
    the forward pass is measured.
    """
    keras = import_keras()
    import tensorflow as tf

    analysis = loaded.analysis
    names = list(analysis.layers)
    layers = [keras_model.get_layer(name) for name in names]
    model_inputs = keras_model.inputs[0] if len(keras_model.inputs) == 1 else keras_model.inputs
    every_output = keras.Model(model_inputs, [layer.output for layer in layers], name="probe")
    x = [tf.convert_to_tensor(inputs[name]) for name in analysis.inputs]
    x = x[0] if len(x) == 1 else x
    trainable = list(keras_model.trainable_weights)
    loss = None
    with tf.GradientTape() as tape:
        for tensor in x if isinstance(x, list) else [x]:
            if tensor.dtype.is_floating:
                tape.watch(tensor)  # so that layers fed only by an input get their output gradient too
        outputs = every_output(x, training=True)
        if targets is not None and keras_model.compiled:
            predicted = [outputs[names.index(name)] for name in analysis.outputs]
            y = [tf.convert_to_tensor(targets[name]) for name in analysis.outputs]
            single = len(predicted) == 1
            loss = keras_model.compute_loss(
                x=x, y=y[0] if single else y, y_pred=predicted[0] if single else predicted, training=True
            )
    gradients: dict[int, Any] = {}
    output_gradients: list = [None] * len(outputs)
    if loss is not None:
        found = tape.gradient(loss, [*trainable, *outputs], unconnected_gradients=tf.UnconnectedGradients.NONE)
        # an embedding's gradient comes as IndexedSlices (the rows it looked up): made dense, rows not looked up are 0
        gradients = {
            id(v): tf.convert_to_tensor(g) for v, g in zip(trainable, found[: len(trainable)]) if g is not None
        }
        output_gradients = found[len(trainable) :]
    measured = {}
    for name, layer, value, gradient in zip(names, layers, outputs, output_gradients):
        info = analysis.layers[name]
        values = value.numpy()
        dead, saturated = _unit_shares(info, values)
        measured[name] = LayerMeasure(
            name,
            float(values.mean()) if values.size else 0.0,
            _rms(values),
            dead,
            saturated,
            None if gradient is None else _rms(gradient),
            _weights(layer, info, gradients),
        )
    numbers = [array for array in inputs.values() if array.dtype.kind == "f"]  # token ids have no scale to judge
    input_rms = math.sqrt(sum(_rms(array) ** 2 for array in numbers) / len(numbers)) if numbers else 0.0
    return Measured(measured, None if loss is None else float(loss), input_rms)
