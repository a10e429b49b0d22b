"""The static backward analysis against Keras: build each spec, take the gradient of its loss on one batch of
standard-normal inputs and labels drawn to fit the loss (uniform one-hot classes, standard-normal regression
targets) in a training step with tf.GradientTape, and compare the measured gradient scales (root mean square)
with the prediction of modelspec/analysis/gradients.py: every layer output's gradient, every kernel's, every
bias's and normalisation weight's.

The prediction is an expectation over weights, inputs and labels. One batch of B = 32 examples through one weight
draw scatters around it far more than a forward pass does, so the squared gradients are averaged over SEEDS draws
of everything. Tolerances, from what these specs measure (docs/signal.md, "How well the backward laws match"):

- OUTPUT_TOLERANCE (15%) for the gradient of each layer's output: the laws of the backward pass proper;
- KERNEL_TOLERANCE (40%) and BIAS_TOLERANCE (40%) for weights: a weight's gradient sums over the batch, and the
  part that examples share (large in deep ReLU networks, whose hidden features grow alike across examples) is
  predicted low by up to a third: it is a product of two quantities that one finite-width draw moves together,
  which an expectation of each misses;
- RATIO_TOLERANCE (30%) for what MS113 and MS114 judge: each kernel's gradient-to-weight ratio relative to the
  last layer's, on the rules' own examples (13%, 25% and 23% today).
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from modelspec import load_spec
from modelspec.analysis.gradients import predict_gradients
from modelspec.linter import registry
from modelspec.runtime.tensorflow_env import import_keras

pytestmark = pytest.mark.tensorflow
keras = import_keras()

OUTPUT_TOLERANCE = 0.15
KERNEL_TOLERANCE = 0.40
BIAS_TOLERANCE = 0.40
RATIO_TOLERANCE = 0.30
SEEDS = (1, 2, 3, 4, 5, 6)
# Predictions known to be rough, by (spec, weight), with the reason (docs/signal.md): reported, not asserted.
ROUGH = {
    ("conv-batch-norm", "batch_norm_1/gamma"): "gamma before global pooling: what the positions of one example "
    "share is not told apart from what examples share (predicted ~10x low)",
    ("specs/resnet.yaml", "stem/kernel"): "the first convolution on raw inputs, whose gradient at every position "
    "depends on the pixels it multiplies: the response term catches most of it (predicted 42% low)",
}
ROOT = Path(__file__).resolve().parent.parent


def _stack(
    activation: str,
    initializer: str,
    depth: int = 6,
    width: int = 256,
    loss: str = "categorical_crossentropy",
    out: str = "{type: dense, units: 10, activation: softmax}",
) -> str:
    layer = f"  - {{type: dense, units: {width}, activation: {activation}, kernel_initializer: {initializer}}}\n"
    return (
        f"modelspec: 1\nseed: 0\ninput: {{shape: [{width}]}}\n"
        f"training: {{optimizer: sgd, loss: {loss}}}\nlayers:\n" + layer * depth + f"  - {out}\n"
    )


SPECS = {
    "relu-he": _stack("relu", "he_normal"),
    "tanh-glorot": _stack("tanh", "glorot_uniform"),
    "sigmoid-glorot": _stack("sigmoid", "glorot_uniform"),
    "relu-he-mse": _stack("relu", "he_normal", loss="mse", out="{type: dense, units: 4}"),
    "relu-normal-1": _stack("relu", "{type: random_normal, stddev: 1.0}", depth=2, width=64).replace(
        "{type: dense, units: 10, activation: softmax}",
        "{type: dense, units: 10, activation: softmax, kernel_initializer: {type: random_normal, stddev: 1.0}}",
    ),
    "conv": """
        modelspec: 1
        seed: 0
        input: {shape: [16, 16, 8]}
        training: {optimizer: sgd, loss: categorical_crossentropy}
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
        training: {optimizer: sgd, loss: categorical_crossentropy}
        layers:
          - {type: dense, name: b0, units: 128, activation: relu}
          - {type: dense, name: h1, units: 128, activation: relu}
          - {type: dense, name: o1, units: 128}
          - {type: add, name: b1, inputs: [b0, o1]}
          - {type: dense, name: h2, units: 128, activation: relu}
          - {type: dense, name: o2, units: 128}
          - {type: add, name: b2, inputs: [b1, o2]}
          - {type: activation, activation: relu}
          - {type: dense, units: 10, activation: softmax}
    """,
    "conv-batch-norm": """
        modelspec: 1
        seed: 0
        input: {shape: [12, 12, 4]}
        training: {optimizer: sgd, loss: categorical_crossentropy}
        layers:
          - {type: conv2d, filters: 32, kernel_size: 3, padding: same, use_bias: false}
          - {type: batch_norm}
          - {type: activation, activation: relu}
          - {type: conv2d, filters: 32, kernel_size: 3, padding: same, use_bias: false}
          - {type: batch_norm}
          - {type: activation, activation: relu}
          - {type: global_average_pool2d}
          - {type: dense, units: 10, activation: softmax}
    """,
    # A ConvNeXt block (keras.applications): layer_norm before the pointwise layers, layer_scale at 1e-6 before
    # the residual add: every law on the block's path at step 0, the layer_scale's and layer_norm's included.
    "layer-scale-block": """
        modelspec: 1
        seed: 0
        input: {shape: [8, 8, 16]}
        training: {optimizer: adam, loss: categorical_crossentropy}
        layers:
          - {type: conv2d, name: stem, filters: 32, kernel_size: 2, strides: 2}
          - {type: layer_norm, name: stem_norm, epsilon: 1e-06}
          - {type: conv2d, name: depthwise, filters: 32, kernel_size: 3, padding: same, groups: 32}
          - {type: layer_norm, name: norm, epsilon: 1e-06}
          - {type: dense, name: pointwise_1, units: 128, activation: gelu}
          - {type: dense, name: pointwise_2, units: 32}
          - {type: layer_scale, name: scale, init_value: 1e-06}
          - {type: add, name: residual, inputs: [stem_norm, scale]}
          - {type: global_average_pool2d}
          - {type: layer_norm, name: head_norm, epsilon: 1e-06}
          - {type: dense, name: head, units: 10, activation: softmax}
    """,
    "batch-norm": """
        modelspec: 1
        seed: 0
        input: {shape: [128]}
        training: {optimizer: sgd, loss: categorical_crossentropy}
        layers:
          - {type: dense, units: 128, use_bias: false}
          - {type: batch_norm}
          - {type: activation, activation: relu}
          - {type: dense, units: 128, use_bias: false}
          - {type: batch_norm}
          - {type: activation, activation: relu}
          - {type: dropout, rate: 0.2}
          - {type: dense, units: 128, activation: tanh}
          - {type: layer_norm}
          - {type: dense, units: 10, activation: softmax}
    """,
}


def _labels(loss: str, rng, shape: tuple[int, ...]) -> np.ndarray:
    if loss == "categorical_crossentropy":
        return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], shape[:-1])]
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, shape[-1], shape[:-1])
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, shape).astype("float32")
    return rng.standard_normal(shape).astype("float32")


def _inputs(analysis, rng, batch: int) -> np.ndarray:
    """Standard-normal inputs where the analysis assumes standardised data: after a leading `rescaling` layer."""
    x = rng.standard_normal((batch, *analysis.inputs["input"].shape))
    first = next(iter(analysis.layers.values()))
    if first.type == "rescaling" and first.inputs == ["input"]:
        x = (x - first.spec.offset) / first.spec.scale
    return x.astype("float32")


def measure(text: str, seeds=SEEDS) -> tuple[dict[str, float], dict[str, float]]:
    """Mean over ``seeds`` of each weight's squared gradient and each layer output's, as RMS:
    ({"layer/variable": rms}, {"layer": rms})."""
    import tensorflow as tf

    from modelspec import build_model

    weights: dict[str, float] = {}
    outputs: dict[str, float] = {}
    for seed in seeds:
        spec = load_spec(text.replace("seed: 0", f"seed: {seed}"))
        model = build_model(spec, lint=False)
        names = list(spec.analysis.layers)
        probe = keras.Model(model.inputs[0], [model.get_layer(name).output for name in names])
        training = spec.analysis.spec.training
        loss_name = training.loss.type
        loss_fn = keras.losses.get({"class_name": training.loss.keras_class, "config": training.loss.options()})
        batch = training.batch_size
        rng = np.random.default_rng(seed)
        x = _inputs(spec.analysis, rng, batch)
        y = _labels(loss_name, rng, (batch, *spec.analysis.layers[names[-1]].output_shape))
        with tf.GradientTape() as tape:
            outs = probe(x, training=True)
            loss = loss_fn(y, outs[-1])
        grads = tape.gradient(loss, list(outs) + probe.trainable_weights)
        for name, grad in zip(names, grads[: len(names)]):
            if grad is not None:
                outputs[name] = outputs.get(name, 0.0) + float(np.mean(np.square(np.asarray(grad, "float64"))))
        for variable, grad in zip(probe.trainable_weights, grads[len(names) :]):
            square = float(np.mean(np.square(np.asarray(grad, "float64"))))
            weights[variable.path] = weights.get(variable.path, 0.0) + square
    return (
        {k: math.sqrt(v / len(seeds)) for k, v in weights.items()},
        {k: math.sqrt(v / len(seeds)) for k, v in outputs.items()},
    )


def compare(text: str) -> list[tuple[str, float, float, float]]:
    """(what, predicted, measured, tolerance) for every weight and layer output the analysis predicts."""
    predicted = predict_gradients(load_spec(text).analysis)
    weights, outputs = measure(text)
    rows = []
    for name, layer in predicted.layers.items():
        if layer.output_gradient_rms is not None and name in outputs:
            rows.append((f"{name} output", layer.output_gradient_rms, outputs[name], OUTPUT_TOLERANCE))
        for weight in layer.weights:
            tolerance = KERNEL_TOLERANCE if "kernel" in weight.variable else BIAS_TOLERANCE
            rows.append(
                (f"{name}/{weight.variable}", weight.gradient_rms, weights[f"{name}/{weight.variable}"], tolerance)
            )
    return rows


def _measured_ratios(text: str) -> dict[str, float]:
    """Each kernel's measured gradient RMS over its measured weight RMS, averaged over the seeds."""
    import tensorflow as tf

    from modelspec import build_model

    sums: dict[str, float] = {}
    for seed in SEEDS:
        spec = load_spec(text.replace("seed: 1", f"seed: {seed}"))
        model = build_model(spec, lint=False)
        assumed = predict_gradients(spec.analysis).assumed_loss
        loss_fn = keras.losses.get(assumed)
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((32, *spec.analysis.inputs["input"].shape)).astype("float32")
        y = _labels(assumed, rng, (32, *model.outputs[0].shape[1:]))
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        kernels = [v for v in model.trainable_weights if v.path.endswith("kernel")]
        for variable, grad in zip(kernels, tape.gradient(loss, kernels)):
            ratio = float(np.sqrt(np.mean(np.square(grad))) / np.sqrt(np.mean(np.square(variable))))
            sums[variable.path.split("/")[0]] = sums.get(variable.path.split("/")[0], 0.0) + ratio / len(SEEDS)
    return sums


# The layer types that imported architectures brought (normalization, cropping, per-channel rescaling, layer
# scale), each after or before layers whose own laws are close, so that what is compared is their law: the
# gradient each passes back, relative to the one it receives.
IMPORTED_LAYERS = """
    modelspec: 1
    seed: 0
    input: {shape: [12, 12, 4]}
    training: {optimizer: sgd, loss: categorical_crossentropy}
    layers:
      - {type: conv2d, filters: 16, kernel_size: 3, padding: same}
      - {type: normalization, mean: [0.1, 0.0, -0.1, 0.0, 0.1, 0.0, -0.1, 0.0,
                                 0.1, 0.0, -0.1, 0.0, 0.1, 0.0, -0.1, 0.0],
         variance: [4.0, 0.25, 1.0, 2.0, 4.0, 0.25, 1.0, 2.0, 4.0, 0.25, 1.0, 2.0, 4.0, 0.25, 1.0, 2.0]}
      - {type: activation, activation: relu}
      - {type: cropping2d, cropping: [[1, 2], [2, 1]]}
      - {type: conv2d, filters: 32, kernel_size: 3, padding: same, activation: relu}
      - {type: rescaling, scale: [0.5, 2.0, 1.0, 1.5, 0.5, 2.0, 1.0, 1.5, 0.5, 2.0, 1.0, 1.5, 0.5, 2.0, 1.0, 1.5,
                                  0.5, 2.0, 1.0, 1.5, 0.5, 2.0, 1.0, 1.5, 0.5, 2.0, 1.0, 1.5, 0.5, 2.0, 1.0, 1.5]}
      - {type: conv2d, name: branch, filters: 32, kernel_size: 3, padding: same}
      - {type: layer_scale, name: scale, init_value: 0.5}
      - {type: add, inputs: [rescaling, scale]}
      - {type: activation, activation: relu}
      - {type: global_average_pool2d}
      - {type: dense, units: 10, activation: softmax}
"""
IMPORTED_LAW_TOLERANCE = 0.05


def test_the_backward_laws_of_imported_layer_types_match_keras():
    text = textwrap.dedent(IMPORTED_LAYERS)
    predicted = predict_gradients(load_spec(text).analysis).layers
    weights, outputs = measure(text)
    received_from = {"normalization": "conv2d", "cropping2d": "activation", "rescaling": "conv2d_1", "scale": "branch"}
    for layer, before in received_from.items():
        ratio = predicted[before].output_gradient_rms / predicted[layer].output_gradient_rms
        measured = outputs[before] / outputs[layer]
        assert abs(ratio / measured - 1) <= IMPORTED_LAW_TOLERANCE, (layer, ratio, measured)
    gamma = predicted["scale"].weight("gamma")
    assert abs(gamma.weight_rms - 0.5) < 1e-12
    assert abs(gamma.gradient_rms / weights["scale/gamma"] - 1) <= KERNEL_TOLERANCE


RULE_EXAMPLES = {
    "MS113 example": registry.RULES["MS113"].docs.example,
    "MS114 example": registry.RULES["MS114"].docs.example,
    "MS113 use instead": registry.RULES["MS113"].docs.use_instead,
}


@pytest.mark.parametrize("name", list(RULE_EXAMPLES))
def test_the_ratio_the_gradient_rules_judge_matches_keras(name):
    """MS113 and MS114 compare each kernel's gradient-to-weight ratio with the last layer's: that relative ratio,
    predicted, is within RATIO_TOLERANCE of Keras's, on the rules' own examples (a factor of 100 is what they judge).
    """
    text = RULE_EXAMPLES[name]
    report = predict_gradients(load_spec(text).analysis)
    predicted = {n: layer.weight("kernel").ratio for n, layer in report.layers.items() if layer.weights}
    measured = _measured_ratios(text)
    last = list(predicted)[-1]
    rows = [(n, predicted[n] / predicted[last], measured[n] / measured[last]) for n in predicted if n != last]
    report_text = "\n".join(f"{n}: predicted {p:.3g}, measured {m:.3g}" for n, p, m in rows)
    for _, p, m in rows:
        assert abs(p / m - 1) <= RATIO_TOLERANCE, report_text


def _text(name: str) -> str:
    if name in SPECS:
        return textwrap.dedent(SPECS[name])
    return re.sub(r"^seed: \d+", "seed: 0", (ROOT / name).read_text(encoding="utf-8"), flags=re.M)


@pytest.mark.parametrize("name", [*SPECS, "specs/digits_mlp.yaml", "specs/resnet.yaml"])
def test_predicted_gradients_match_keras(name):
    rows = compare(_text(name))
    report = "\n".join(f"{what}: predicted {p:.3g}, measured {m:.3g}" for what, p, m, _ in rows)
    checked = [(p, m, tolerance) for what, p, m, tolerance in rows if (name, what) not in ROUGH]
    assert len(checked) >= len(rows) - 1
    for p, m, tolerance in checked:
        if m == 0:  # a zero-initialised residual branch: nothing flows, exactly
            assert p == 0, report
        else:
            assert abs(p / m - 1) <= tolerance, report


def _fixture(code: str, name: str) -> str:
    import yaml

    cases = yaml.safe_load((ROOT / "tests" / "rules" / f"{code}.yaml").read_text(encoding="utf-8"))["cases"]
    return next(case["spec"] for case in cases if name in case["name"])


def test_a_layer_before_batch_norm_is_scale_invariant_and_its_ratio_corrects_itself():
    """Why MS113/MS114 do not judge a layer whose output feeds normalisation (docs/signal.md, "The gradient
    band"): on MS114's passing ResNet-stem fixture, the stem's ratio really is above the band at initialisation
    (so the rule's silence is its premise, not a wrong prediction), its gradient is orthogonal to its weights, one
    SGD step grows its norm as |W'|² = |W|² + η²|g|² (within 1%), and the ratio is back inside the band after it."""
    import tensorflow as tf

    from modelspec import build_model

    text = _fixture("MS114", "ResNet stem")
    learning_rate = 0.01
    for seed in (1, 2):
        spec = load_spec(text.replace("seed: 1", f"seed: {seed}"))
        model = build_model(spec, lint=False)
        stem, last = model.get_layer("stem").kernel, model.get_layer("dense").kernel
        loss_fn = keras.losses.CategoricalCrossentropy()
        rng = np.random.default_rng(seed)
        ratios = []
        for _ in range(2):
            x = rng.standard_normal((32, 32, 32, 3)).astype("float32")
            y = np.eye(10, dtype="float32")[rng.integers(0, 10, 32)]
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = dict(zip((v.path for v in model.trainable_weights), tape.gradient(loss, model.trainable_weights)))
            g, w = np.asarray(grads[stem.path], "float64"), np.asarray(stem, "float64")
            ratio = np.linalg.norm(g) / np.linalg.norm(w)
            ratios.append(ratio / (np.linalg.norm(grads[last.path]) / np.linalg.norm(last)))
            # Batch norm's epsilon (1e-5, against a stem variance of 3e-4) leaves the invariance nearly exact.
            assert abs(np.sum(g * w)) / (np.linalg.norm(g) * np.linalg.norm(w)) < 0.02
            for variable in model.trainable_weights:
                variable.assign_sub(learning_rate * grads[variable.path])
            grown = np.sum(np.square(np.asarray(stem, "float64")))
            assert abs(grown / (np.sum(w * w) + learning_rate**2 * np.sum(g * g)) - 1) < 0.01
        assert ratios[0] > 100 and ratios[1] < 100, ratios


# Squeeze-excite blocks (EfficientNet: swish and a sigmoid gate; MobileNetV3: hard swish and a hard sigmoid gate
# written as Keras writes it, relu6(x + 3) / 6): a (1, 1, C) gate multiplied into an 8×8 feature map.
SQUEEZE_EXCITE = {
    "sigmoid": """
        modelspec: 1
        seed: 0
        input: {shape: [8, 8, 16]}
        training: {optimizer: sgd, loss: categorical_crossentropy}
        layers:
          - {type: conv2d, name: main, filters: 32, kernel_size: 3, padding: same, activation: swish}
          - {type: global_average_pool2d, name: squeeze, keepdims: true}
          - {type: conv2d, name: reduce, filters: 8, kernel_size: 1, activation: swish}
          - {type: conv2d, name: expand, filters: 32, kernel_size: 1, activation: sigmoid}
          - {type: multiply, name: excite, inputs: [main, expand]}
          - {type: conv2d, name: project, filters: 32, kernel_size: 1, activation: relu}
          - {type: global_average_pool2d}
          - {type: dense, units: 10, activation: softmax}
    """,
    "hard sigmoid": """
        modelspec: 1
        seed: 0
        input: {shape: [8, 8, 16]}
        training: {optimizer: sgd, loss: categorical_crossentropy}
        layers:
          - {type: conv2d, name: main, filters: 32, kernel_size: 3, padding: same, activation: hard_silu}
          - {type: global_average_pool2d, name: squeeze, keepdims: true}
          - {type: conv2d, name: reduce, filters: 8, kernel_size: 1, activation: relu}
          - {type: conv2d, name: expand, filters: 32, kernel_size: 1}
          - {type: rescaling, name: shift, scale: 1.0, offset: 3.0}
          - {type: activation, name: clip, activation: relu6}
          - {type: rescaling, name: gate, scale: 0.16666666666666666}
          - {type: multiply, name: excite, inputs: [main, gate]}
          - {type: conv2d, name: project, filters: 32, kernel_size: 1, activation: hard_silu}
          - {type: global_average_pool2d}
          - {type: dense, units: 10, activation: softmax}
    """,
}
# The gradient of a broadcast gate sums d·x over the 64 positions of one example, whose gradients the global pool
# made alike (Gradient.local): without the sum the gate's branch came out 8-20× low, with it but with what two
# examples share in place of what two positions of one example share, 2.5-2.7× low.


@pytest.mark.parametrize("name", list(SQUEEZE_EXCITE))
def test_the_gradient_of_a_broadcast_gate_sums_over_its_positions(name):
    rows = compare(textwrap.dedent(SQUEEZE_EXCITE[name]))
    report = "\n".join(f"{what}: predicted {p:.3g}, measured {m:.3g}" for what, p, m, _ in rows)
    assert any(what == "expand/kernel" for what, *_ in rows)
    for _, p, m, tolerance in rows:
        assert abs(p / m - 1) <= tolerance, report


def test_layers_behind_a_layer_scale_near_zero_leave_their_step_0_ratio_within_one_adam_step():
    """Why MS113 does not judge the layers behind a learned gate that starts near 0 (docs/signal.md, "The gradient
    band"): in a ConvNeXt block (layer_scale 1e-6), their step-0 ratio really is 1e-7 to 1e-5 of the head's,
    predicted as measured (test_predicted_gradients_match_keras), but γ's own ratio is far above the head's, and
    one Adam step at 1e-3 (ConvNeXt's optimizer) moves γ by about the learning rate, a thousandfold: the ratios
    of the layers behind it follow, so the step-0 figure says nothing about their pace."""
    import tensorflow as tf

    from modelspec import build_model

    text = textwrap.dedent(SPECS["layer-scale-block"])
    predicted = predict_gradients(load_spec(text).analysis).layers
    assert predicted["scale"].weight("gamma").ratio > 1e3 * predicted["head"].weight("kernel").ratio
    behind = ("depthwise", "pointwise_1", "pointwise_2")
    for seed in (1, 2):
        model = build_model(load_spec(text.replace("seed: 0", f"seed: {seed}")), lint=False)
        optimizer, loss_fn = keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy()
        rng = np.random.default_rng(seed)
        ratios = []
        for _ in range(2):
            x = rng.standard_normal((32, 8, 8, 16)).astype("float32")
            y = np.eye(10, dtype="float32")[rng.integers(0, 10, 32)]
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            by_path = dict(zip((v.path for v in model.trainable_weights), grads))
            speed = {
                n: np.linalg.norm(by_path[f"{n}/kernel"]) / np.linalg.norm(model.get_layer(n).kernel)
                for n in (*behind, "head")
            }
            ratios.append({n: speed[n] / speed["head"] for n in behind})
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
        gamma = np.sqrt(np.mean(np.square(np.asarray(model.get_layer("scale").gamma))))
        assert gamma > 300 * 1e-6, gamma
        for n in behind:
            assert ratios[0][n] < 1e-4 and ratios[1][n] > 300 * ratios[0][n], (n, ratios)
