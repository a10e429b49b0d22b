"""The static signal analysis against Keras: build each spec, push a standard-normal batch through it in a training
step, and compare every layer's measured activation scale (root mean square) with the prediction.

Tolerance: the predicted RMS is within TOLERANCE (8%) of the measured one, for every layer. The prediction is the
expectation over random weights; one draw of a finite-width network scatters around it (5-10% per draw in these
128-256-wide stacks, more in deep ones), so the measurement is averaged over SEEDS weight draws. Layers whose
per-draw scatter is larger than the tolerance by nature (depthwise convolutions sum only 9 weights per channel;
recurrent layers fed by another recurrent layer's time-correlated sequence) are described in docs/signal.md and
left out of these specs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelspec import build_model, load_spec
from modelspec.analysis.signal import propagate
from modelspec.runtime.tensorflow_env import import_keras

pytestmark = pytest.mark.tensorflow
keras = import_keras()

TOLERANCE = 0.08
SEEDS = (1, 2, 3, 4)
BATCH = 256


def _stack(activation: str, initializer: str, depth: int = 8, width: int = 256) -> str:
    layer = f"  - {{type: dense, units: {width}, activation: {activation}, kernel_initializer: {initializer}}}\n"
    return f"modelspec: 1\nseed: 0\ninput: {{shape: [{width}]}}\nlayers:\n" + layer * depth


SPECS = {
    "relu-he": _stack("relu", "he_normal"),
    "relu-glorot": _stack("relu", "glorot_uniform"),
    "tanh-glorot": _stack("tanh", "glorot_uniform"),
    "selu-lecun": _stack("selu", "lecun_normal"),
    "gelu-he-uniform": _stack("gelu", "he_uniform"),
    "sigmoid-glorot-normal": _stack("sigmoid", "glorot_normal"),
    "initializers": """
        modelspec: 1
        seed: 0
        input: {shape: [256]}
        layers:
          - {type: dense, units: 256, activation: relu, kernel_initializer: {type: random_normal, stddev: 0.05}}
          - {type: dense, units: 256, activation: tanh,
             kernel_initializer: {type: random_uniform, minval: -0.1, maxval: 0.1}}
          - {type: dense, units: 256, activation: relu, kernel_initializer: {type: truncated_normal, stddev: 0.1}}
          - type: dense
            units: 128
            activation: elu
            kernel_initializer: {type: variance_scaling, scale: 2.0, mode: fan_out, distribution: uniform}
          - {type: dense, units: 128, activation: tanh, kernel_initializer: orthogonal}
          - {type: dense, units: 128, activation: silu, kernel_initializer: lecun_uniform,
             bias_initializer: {type: random_normal, stddev: 0.5}}
          - {type: dense, units: 128, kernel_initializer: {type: identity, gain: 2.0}}
          - type: dense
            units: 64
            activation: softplus
            kernel_initializer: {type: variance_scaling, scale: 1.0, mode: fan_avg, distribution: untruncated_normal}
    """,
    "constant-and-uniform-kernels": """
        modelspec: 1
        seed: 0
        input: {shape: [64]}
        layers:
          - {type: dense, units: 64, activation: relu,
             kernel_initializer: {type: random_uniform, minval: 0.0, maxval: 0.1}}
          - {type: dense, units: 64, activation: tanh, kernel_initializer: ones, bias_initializer: ones}
          - {type: dense, units: 512}  # its input units are identical: only 512 independent sums, one per unit
    """,
    "conv": """
        modelspec: 1
        seed: 0
        input: {shape: [16, 16, 8]}
        layers:
          - {type: conv2d, filters: 32, kernel_size: 3, padding: same, activation: relu}
          - {type: conv2d, filters: 32, kernel_size: 3, padding: same, activation: relu}
          - {type: max_pool2d}
          - {type: conv2d, filters: 64, kernel_size: 3, activation: relu}
          - {type: average_pool2d}
          - {type: conv2d, filters: 64, kernel_size: 1, activation: tanh}
          - {type: global_average_pool2d}
          - {type: dense, units: 10, activation: softmax}
    """,
    "residual": """
        modelspec: 1
        seed: 0
        input: {shape: [128]}
        layers:
          - {type: dense, name: b0, units: 128, activation: relu}
          - {type: dense, name: h1, units: 128, activation: relu}
          - {type: dense, name: o1, units: 128}
          - {type: add, name: b1, inputs: [b0, o1]}
          - {type: dense, name: h2, units: 128, activation: relu}
          - {type: dense, name: o2, units: 128}
          - {type: add, name: b2, inputs: [b1, o2]}
          - {type: activation, activation: relu}
          - {type: concatenate, name: joined, inputs: [activation, b1]}
          - {type: dense, units: 10}
    """,
    "normalisation-and-dropout": """
        modelspec: 1
        seed: 0
        input: {shape: [128]}
        layers:
          - {type: dense, units: 128, kernel_initializer: {type: random_normal, stddev: 1.0}, use_bias: false}
          - {type: batch_norm}
          - {type: activation, activation: relu}
          - {type: dropout, rate: 0.3}
          - {type: dense, units: 128, activation: tanh}
          - {type: layer_norm}
          - {type: dense, units: 64, activation: relu}
    """,
    "imported-layers": """
        modelspec: 1
        seed: 0
        input: {shape: [32, 128]}
        layers:
          - {type: dense, units: 128, activation: relu}
          - {type: cropping1d, cropping: [4, 2]}
          - {type: normalization, mean: 0.5, variance: 0.36}
          - {type: dense, units: 8, kernel_initializer: glorot_normal}
          - {type: rescaling, scale: [0.5, 1.0, 2.0, 1.5, 1.0, 0.8, 1.2, 0.5], offset: [0, 0.5, -0.5, 1, 0, 0, 0, 0]}
          - {type: layer_scale, init_value: 0.3}
          - {type: dropout, rate: 0.3, noise_shape: [null, 1, 8]}
          - {type: dense, units: 256, activation: hard_silu}
          - {type: dense, units: 256, activation: celu}
    """,
    "recurrent": """
        modelspec: 1
        seed: 0
        inputs: [{name: a, shape: [20, 16]}, {name: b, shape: [20, 16]}, {name: c, shape: [20, 16]}]
        layers:
          - {type: lstm, units: 64, inputs: [a]}
          - {type: gru, units: 64, inputs: [b]}
          - {type: simple_rnn, units: 64, inputs: [c]}
          - {type: concatenate, inputs: [lstm, gru, simple_rnn]}
    """,
}


def _measure(text: str) -> dict[str, float]:
    """Mean over SEEDS weight draws of each layer's output second moment, in a training step."""
    sums: dict[str, float] = {}
    for seed in SEEDS:
        spec = load_spec(text.replace("seed: 0", f"seed: {seed}"))
        model = build_model(spec, lint=False)  # the physics, whatever the linter thinks of it
        names = list(spec.analysis.layers)
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # the structure the batch has
        probe = keras.Model(inputs, [model.get_layer(name).output for name in names])
        rng = np.random.default_rng(seed)
        batch = [rng.standard_normal((BATCH, *info.shape)).astype("float32") for info in spec.analysis.inputs.values()]
        outputs = probe(batch if len(batch) > 1 else batch[0], training=True)
        for name, output in zip(names, outputs):
            sums[name] = sums.get(name, 0.0) + float(np.mean(np.square(np.asarray(output, dtype="float64"))))
    return {name: math.sqrt(total / len(SEEDS)) for name, total in sums.items()}


@pytest.mark.parametrize("name", list(SPECS))
def test_predicted_scale_matches_keras(name):
    import textwrap

    text = textwrap.dedent(SPECS[name])
    predicted = propagate(load_spec(text).analysis)
    measured = _measure(text)
    report = []
    for layer, scale in measured.items():
        prediction = predicted.layers[layer].scale
        error = prediction / scale - 1
        report.append(f"{layer}: predicted {prediction:.4f}, measured {scale:.4f} ({error:+.1%})")
        assert abs(error) <= TOLERANCE, "\n".join(report)
