"""`modelspec probe` with real TensorFlow: the measured scales are Keras's own (checked against a model built and
differentiated here by hand), dead, saturated and vanishing layers are flagged, the predictions sit beside the
measurements, and bad input exits 2."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from modelspec import build_model, load_spec, probe
from modelspec.cli import cli
from modelspec.errors import DataError
from modelspec.requests import Options

pytestmark = pytest.mark.tensorflow

SPEC = {
    "modelspec": 1,
    "name": "probed",
    "seed": 4,
    "input": {"shape": [12]},
    "layers": [
        {"type": "dense", "name": "hidden1", "units": 32, "activation": "relu"},
        {"type": "dense", "name": "hidden2", "units": 16, "activation": "tanh"},
        {"type": "dense", "name": "out", "units": 3, "activation": "softmax"},
    ],
    "training": {"optimizer": {"type": "sgd", "learning_rate": 0.1}, "loss": "sparse_categorical_crossentropy"},
}


def _spec(**changes) -> dict:
    spec = copy.deepcopy(SPEC)
    for name, value in changes.items():
        spec[name] = value
    return spec


def _rms(array) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(array, dtype=np.float64)))))


def test_measurements_equal_keras_forward_and_gradients(keras):
    import tensorflow as tf

    from modelspec.runtime.probe import random_batch

    report = probe(SPEC, options=Options(batch_size=64))
    assert report.seed == 4 and report.batch == 64
    model = build_model(SPEC, lint=False)  # the same seed gives the same weights
    x, y = random_batch(load_spec(SPEC), 64, report.seed)
    (x,), (y,) = x.values(), y.values()
    layers = {layer.name: layer for layer in report.layers}
    for name in ("hidden1", "hidden2", "out"):
        output = keras.Model(model.inputs[0], model.get_layer(name).output)(x, training=True).numpy()
        assert layers[name].mean == pytest.approx(float(output.mean()), rel=1e-5, abs=1e-7)
        assert layers[name].rms == pytest.approx(_rms(output), rel=1e-5)
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(y, model(x, training=True))
    gradients = tape.gradient(loss, model.trainable_weights)
    assert report.loss == pytest.approx(float(loss), rel=1e-5)
    measured = [value for layer in report.layers for w in layer.weights for value in (w.weight_rms, w.gradient_rms)]
    expected = [value for v, g in zip(model.trainable_weights, gradients) for value in (_rms(v.numpy()), _rms(g))]
    assert measured == pytest.approx(expected, rel=1e-5)
    assert [w.variable for w in layers["hidden1"].weights] == ["kernel", "bias"]
    # the gradient at each hidden layer's output is Keras's too
    with tf.GradientTape() as tape:
        hidden = keras.Model(model.inputs[0], model.get_layer("hidden2").output)(x, training=True)
        tape.watch(hidden)
        loss = keras.losses.SparseCategoricalCrossentropy()(y, model.get_layer("out")(hidden))
    assert layers["hidden2"].output_gradient_rms == pytest.approx(_rms(tape.gradient(loss, hidden)), rel=1e-5)


def test_predictions_sit_beside_measurements_and_a_healthy_model_is_not_flagged():
    report = probe(SPEC, options=Options(batch_size=256))
    for layer in report.layers:
        assert layer.flags == []
        assert layer.predicted_rms == pytest.approx(layer.rms, rel=0.25)  # one draw of a narrow net scatters
    hidden1 = report.layers[0]
    assert hidden1.dead == pytest.approx(0.0)  # He and standard-normal inputs: every unit fires for some example
    assert report.layers[1].saturated is not None and report.layers[1].saturated < 0.5
    report = probe(
        SPEC, options=Options(batch_size=32)
    )  # the gradient of a batch-mean loss depends on the batch; predicted for it
    kernels = [weight for layer in report.layers for weight in layer.weights if weight.is_kernel]
    assert kernels
    for weight in kernels:
        assert weight.predicted_gradient_rms == pytest.approx(weight.gradient_rms, rel=0.5)


def test_zeros_on_a_relu_hidden_layer_is_dead_with_no_gradient():
    spec = _spec()
    spec["layers"][0]["kernel_initializer"] = "zeros"
    report = probe(spec)
    hidden1 = report.layers[0]
    assert hidden1.dead == 1.0 and hidden1.rms == 0.0
    assert "dead: 100% of units are zero for every example" in hidden1.flags
    assert "no gradient: kernel's gradient is zero: its inputs are zero or its units dead or saturated" in hidden1.flags
    assert not any(flag.startswith("vanishing") for flag in hidden1.flags)  # zero by design: MS101 names it
    assert {f.code for f in report.findings} >= {"MS101"}  # reported, not a gate


def test_the_activation_a_keras_layer_applies_is_seen_as_lint_sees_it():
    """A `type: keras` ReLU layer applies relu (the schema's applied_activation, as lint reads it): the probe names
    it and measures its dead units; a bidirectional LSTM's outputs are tanh-bounded like the LSTM's own."""
    spec = _spec()
    spec["layers"][0].update(
        activation="linear", kernel_initializer="zeros", bias_initializer={"type": "constant", "value": -1.0}
    )
    spec["layers"].insert(1, {"type": "keras", "name": "relu", "class_name": "ReLU"})
    report = probe(spec)
    relu = next(layer for layer in report.layers if layer.name == "relu")
    assert relu.activation == "relu"
    assert relu.dead == 1.0 and "dead: 100% of units are zero for every example" in relu.flags
    assert report.layers[0].activation == "linear" and report.layers[0].dead is None

    recurrent = {
        "modelspec": 1,
        "name": "bidirectional",
        "seed": 1,
        "input": {"shape": [5, 3]},
        "layers": [
            {"type": "bidirectional", "name": "both", "layer": {"type": "lstm", "units": 4}},
            {"type": "dense", "name": "out", "units": 1},
        ],
        "training": {"optimizer": "sgd", "loss": "mean_squared_error"},
    }
    both = probe(recurrent).layers[0]
    assert both.activation == "tanh" and both.saturated is not None


def test_ones_everywhere_saturates_tanh():
    spec = _spec(defaults={"kernel_initializer": "ones", "bias_initializer": "ones"})
    spec["layers"][0]["activation"] = "tanh"
    report = probe(spec, options=Options(batch_size=64))
    hidden2 = report.layers[1]  # tanh(16 tanh(Σx + 1) + 1): saturated unless Σx is within 0.2 of -1
    assert hidden2.saturated > 0.9
    assert any(flag.startswith("saturated: 9") for flag in hidden2.flags)


def test_deep_glorot_relu_vanishes_and_he_does_not():
    layers = [{"type": "dense", "units": 64, "activation": "relu"} for _ in range(20)]
    layers.append({"type": "dense", "name": "out", "units": 3, "activation": "softmax"})
    glorot = probe(
        _spec(layers=layers, defaults={"kernel_initializer": "glorot_uniform"}), options=Options(batch_size=128)
    )
    flagged = [layer.name for layer in glorot.layers if any(f.startswith("vanishing activations") for f in layer.flags)]
    assert flagged and flagged[-1] == "dense_19" and "dense" not in flagged  # the deep end, not the first layer
    he = probe(_spec(layers=layers), options=Options(batch_size=128))
    assert all(not layer.flags for layer in he.layers)
    assert he.layers[-2].rms / glorot.layers[-2].rms > 100


def test_data_first_batch_and_a_spec_without_training(tmp_path):
    digits = {
        "modelspec": 1,
        "name": "digits_probe",
        "seed": 1,
        "input": {"shape": [64]},
        "layers": [
            {"type": "rescaling", "scale": 0.0625},
            {"type": "dense", "units": 32, "activation": "relu"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ],
        "training": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "batch_size": 50},
    }
    report = probe(digits, "digits")
    assert report.batch == 50 and report.data == "digits"
    assert report.layers[0].rms == pytest.approx(0.0625 * report.input_rms, rel=1e-5)
    # Without a training block: the loss the output suggests, as the linter assumes (the labels are class numbers)
    untrained = probe(
        {key: value for key, value in digits.items() if key != "training"}, "digits", Options(batch_size=10)
    )
    assert untrained.batch == 10 and untrained.assumed_loss == "categorical_crossentropy"
    assert untrained.loss is not None and math.isfinite(untrained.loss)
    assert all(w.gradient_rms > 0 for layer in untrained.layers for w in layer.weights)
    assert untrained.to_dict()["assumed_loss"] == "categorical_crossentropy" and report.assumed_loss is None
    with pytest.raises(DataError):
        probe(_spec(), "digits")  # 12 inputs: the digits do not fit


def test_cli_text_json_and_plot(tmp_path):
    spec = tmp_path / "probed.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["probe", str(spec), "--plot", str(tmp_path / "p.png")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Activations of probed at initialisation" in result.output
    assert "Gradients of the loss" in result.output and "No layer is flagged" in result.output
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(cli, ["probe", str(spec), "--format", "json", "--batch", "8"], catch_exceptions=False)
    document = json.loads(result.output)
    assert document["version"] == 1 and document["batch"] == 8
    assert [layer["name"] for layer in document["layers"]] == ["hidden1", "hidden2", "out"]
    assert set(document["layers"][0]["weights"][0]) >= {"variable", "shape", "weight_rms", "gradient_rms", "ratio"}
    bad = runner.invoke(cli, ["probe", str(spec), "--plot", str(tmp_path / "p.jpg")])
    assert bad.exit_code == 2 and "must end in .png" in bad.output
    bad = runner.invoke(cli, ["probe", str(spec), "--data", "digits"])
    assert bad.exit_code == 2 and "digits" in bad.output


def test_a_layer_feeding_normalisation_is_not_flagged_for_its_gradient_ratio():
    """A kernel before batch norm is scale-invariant: tiny weights give it a huge gradient/weight ratio, which one
    step corrects (MS113/MS114's premise); the probe measures the ratio but flags it no more than the linter."""
    spec = {
        "modelspec": 1,
        "seed": 3,
        "input": {"shape": [32]},
        "layers": [
            {"type": "dense", "name": "small", "units": 64, "use_bias": False,
             "kernel_initializer": {"type": "random_normal", "stddev": 0.0005}},
            {"type": "batch_norm"},
            {"type": "activation", "activation": "relu"},
            {"type": "dense", "name": "out", "units": 10, "activation": "softmax"},
        ],
    }  # fmt: skip
    report = probe(spec, options=Options(batch_size=64))
    small, out = (layer for layer in report.layers if layer.name in ("small", "out"))
    assert small.weights[0].ratio > 100 * out.weights[0].ratio
    assert not any("gradient" in flag for layer in report.layers for flag in layer.flags)


def _two_heads(head_stddev: float) -> dict:
    """relu layers of stddev 1 (too large for their fan-in) and two heads: `a` of ``head_stddev``, `b` tiny."""
    wide = {"type": "random_normal", "stddev": 1.0}
    return _spec(
        defaults={"kernel_initializer": wide},
        layers=[
            {"type": "dense", "name": "hidden1", "units": 32, "activation": "relu"},
            {"type": "dense", "name": "hidden2", "units": 16, "activation": "relu"},
            {"type": "dense", "name": "a", "units": 3, "activation": "softmax",
             "kernel_initializer": {"type": "random_normal", "stddev": head_stddev}},
            {"type": "dense", "name": "b", "units": 1, "inputs": ["hidden2"],
             "kernel_initializer": {"type": "random_normal", "stddev": 0.001}},
        ],
        outputs=["a", "b"],
        training={"optimizer": "sgd", "loss": ["sparse_categorical_crossentropy", "mean_squared_error"]},
    )  # fmt: skip


def test_gradient_flags_measure_against_the_reference_ms113_takes():
    """Of several last weighted layers, MS113/MS114 measure against the one that makes the finding least likely
    (for a vanishing gradient, the slowest head); the probe takes the same reference, not the last kernel."""
    slow_heads = probe(_two_heads(0.001), options=Options(batch_size=64))
    hidden1 = slow_heads.layers[0]
    assert any(flag.startswith("vanishing gradient: kernel's gradient/weight is 1/") for flag in hidden1.flags)
    assert all(flag.endswith(" of a's") for flag in hidden1.flags if "gradient" in flag)  # a learns slower than b
    ms113 = [finding for finding in slow_heads.findings if finding.code == "MS113"]
    assert len(ms113) == 1 and "the last weighted layer 'a'" in ms113[0].message

    # a learns at the pace of the hidden layers: measured against it (not against the fast b) nothing vanishes
    fast_b = probe(_two_heads(1.0), options=Options(batch_size=64))
    assert [layer.flags for layer in fast_b.layers] == [[], [], [], []]
    assert "MS113" not in {finding.code for finding in fast_b.findings}


def test_squeeze_excite_kernels_are_measured_against_the_layers_before_their_gate():
    """MobileNetV3's squeeze-excite convs start with a gradient/weight ratio ~1/100 of the head's: it measures the
    gate's starting value, not their pace (docs/signal.md, "The gradient band"). MS113 judges them against the
    last weighted layer before their gate, and so does the probe: no gradient flag on this working model."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "corpus" / "applications" / "mobilenetv3small.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["input"]["shape"] = [64, 64, 3]  # at 48 the last blocks are 1×1: no broadcast, no gate seen
    report = probe(spec, options=Options(batch_size=4))
    gated = [layer for layer in report.layers if "squeeze_excite_conv" in layer.name]
    assert len(gated) >= 10 and all(layer.weights[0].ratio is not None for layer in gated)
    assert [flag for layer in report.layers for flag in layer.flags if "gradient" in flag] == []
    assert "MS113" not in {finding.code for finding in report.findings}
