"""The backward analysis's contract, without TensorFlow: what predict_gradients reports and the laws that follow
from its definition (the batch mean of the loss). Its numbers against Keras: tests/test_gradients_vs_keras.py."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from modelspec import load_spec
from modelspec.analysis.gradients import GradientReport, LayerGradient, WeightGradient, predict_gradients
from modelspec.analysis.signal import propagate

MLP = """
modelspec: 1
seed: 0
input: {shape: [64]}
layers:
  - {type: dense, name: hidden, units: 64, activation: relu}
  - {type: dropout, rate: 0.2}
  - {type: dense, name: out, units: 10, activation: softmax}
"""


def _predict(text: str, **kwargs) -> GradientReport:
    return predict_gradients(load_spec(text).analysis, **kwargs)


def test_report_names_every_layer_and_every_trainable_variable_in_keras_order():
    report = _predict(MLP)
    assert list(report.layers) == ["hidden", "dropout", "out"]
    assert all(isinstance(layer, LayerGradient) for layer in report.layers.values())
    assert [w.variable for w in report.layers["hidden"].weights] == ["kernel", "bias"]
    assert report.layers["dropout"].weights == ()
    kernel = report.layers["hidden"].weight("kernel")
    assert isinstance(kernel, WeightGradient)
    assert kernel.weight_rms == pytest.approx(math.sqrt(2 / 64))  # he_normal, chosen by auto for relu
    assert kernel.gradient_rms > 0 and kernel.ratio == pytest.approx(kernel.gradient_rms / kernel.weight_rms)
    assert (
        report.layers["hidden"].weight("bias").weight_rms == 0 and report.layers["hidden"].weight("bias").ratio is None
    )


def test_without_a_training_block_the_loss_is_assumed_from_the_output_activation():
    report = _predict(MLP)
    assert report.loss is None and report.assumed_loss == "categorical_crossentropy"
    assert report.batch_size == 32
    regression = _predict(MLP.replace("units: 10, activation: softmax", "units: 1"))
    assert regression.assumed_loss == "mean_squared_error"


def test_the_spec_s_loss_and_batch_size_are_used():
    text = MLP + "training: {optimizer: sgd, loss: categorical_crossentropy, batch_size: 128}\n"
    report = _predict(text)
    assert report.loss == "categorical_crossentropy" and report.assumed_loss is None
    assert report.batch_size == 128
    assert _predict(text, batch_size=8).batch_size == 8


def test_softmax_with_cross_entropy_reports_the_gradient_at_the_logits():
    """Keras computes the cross-entropy from the logits: the probabilities are not on the gradient's path."""
    out = _predict(MLP).layers["out"]
    assert out.output_gradient_rms is None
    # p − y at the logits, over B = 32: with small logits E[(p − y)²] ≈ 1/K − 1/K² per element.
    assert out.pre_activation_gradient_rms == pytest.approx(math.sqrt(0.1 - 0.01) / 32, rel=0.1)


def test_a_first_layer_s_kernel_gradient_shrinks_as_one_over_the_root_of_the_batch():
    """Independent examples average out: the batch mean of B independent terms has 1/√B of their scale."""
    small = _predict(MLP, batch_size=16).layers["hidden"].weight("kernel").gradient_rms
    large = _predict(MLP, batch_size=64).layers["hidden"].weight("kernel").gradient_rms
    assert small / large == pytest.approx(2.0, rel=0.02)


def test_mean_squared_error_seeds_two_errors_over_the_output_width():
    text = """
        modelspec: 1
        input: {shape: [16]}
        training: {optimizer: sgd, loss: mse, batch_size: 1}
        layers:
          - {type: dense, units: 4, kernel_initializer: zeros}
    """
    out = _predict(text).layers["dense"]
    # ŷ = 0 and y ~ N(0, 1): d = 2(ŷ − y)/4 has second moment 4/16; the kernel's gradient is d times x.
    assert out.output_gradient_rms == pytest.approx(0.5)
    assert out.weight("kernel").gradient_rms == pytest.approx(0.5)


def test_sigmoid_stacks_lose_gradient_towards_the_inputs():
    text = MLP.replace("activation: relu", "activation: sigmoid")
    for _ in range(4):
        text = text.replace("layers:\n", "layers:\n  - {type: dense, units: 64, activation: sigmoid}\n", 1)
    layers = list(_predict(text).layers.values())
    first, last_hidden = layers[0].output_gradient_rms, layers[-3].output_gradient_rms
    assert first < last_hidden / 100  # each sigmoid passes back about a quarter, five of them


def test_recurrent_layers_are_not_modelled_backwards():
    text = """
        modelspec: 1
        input: {shape: [10, 8]}
        layers:
          - {type: dense, units: 8}
          - {type: lstm, units: 16}
          - {type: dense, units: 1}
    """
    report = _predict(text)
    assert report.layers["dense_1"].weight("kernel").gradient_rms is not None
    assert report.layers["lstm"].weight("kernel").gradient_rms is None
    assert report.layers["lstm"].weight("kernel").weight_rms is not None
    assert report.layers["dense"].weight("kernel").gradient_rms is None  # unknown upstream of the LSTM


def test_a_given_signal_report_is_used():
    spec = load_spec(MLP)
    signal = propagate(spec.analysis)
    assert predict_gradients(spec.analysis, signal) == predict_gradients(spec.analysis)


def test_forward_scales_are_in_the_signal_report():
    """What the probe compares activations with: the root of each layer's predicted second moment."""
    signal = propagate(load_spec(MLP).analysis)
    assert signal.layers["hidden"].scale == pytest.approx(1.0)  # He keeps the input's scale through ReLU


def test_the_backward_analysis_never_imports_tensorflow():
    code = (
        "import sys\nfrom modelspec import lint\n"
        "lint('modelspec: 1\\ninput: {shape: [4]}\\nlayers:\\n  - {type: dense, units: 2, activation: softmax}\\n')\n"
        "import modelspec.analysis.gradients\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_gradient_rules_thresholds_are_configurable():
    from modelspec import lint
    from modelspec.linter import registry
    from modelspec.linter.config import make_config
    from modelspec.linter.docs import explain

    example = registry.RULES["MS113"].docs.example  # its first layer: about 1e-4 of the last one's ratio
    assert [d.code for d in lint(example)] == ["MS113"]
    assert lint(example, config=make_config(values={"vanishing-gradient-ratio": 1e-5})) == []
    healthy = registry.RULES["MS113"].docs.use_instead  # ReLU/He: the first layer's ratio is about 0.13 of the last
    assert {d.code for d in lint(healthy, config=make_config(values={"vanishing-gradient-ratio": 0.5}))} == {"MS113"}
    assert "vanishing-gradient-ratio = 0.01" in explain(registry.RULES["MS113"])
    assert "exploding-gradient-ratio = 100" in explain(registry.RULES["MS114"])


_GATED = """
modelspec: 1
seed: 0
input: {shape: [8, 8, 16]}
layers:
  - {type: conv2d, name: main, filters: 16, kernel_size: 3, padding: same, activation: relu}
  - {type: global_average_pool2d, name: squeeze, keepdims: true}
  - {type: conv2d, name: gate, filters: 16, kernel_size: 1, activation: sigmoid}
  %s
  - {type: multiply, name: excite, inputs: [main, %s]}
  - {type: global_average_pool2d}
  - {type: dense, units: 10, activation: softmax}
"""


def test_a_gate_broadcast_over_positions_gets_the_gradient_of_its_copies():
    """A (1, 1, C) gate multiplied into an 8×8 map is used at its 64 positions: its gradient is what it gets when
    copied to them explicitly (up-sampling, whose law sums its copies' gradients), 8-64× one position's."""
    broadcast = _predict(_GATED % ("", "gate")).layers
    copied = _predict(_GATED % ("- {type: up_sampling2d, name: copies, size: 8}", "copies")).layers
    assert broadcast["gate"].output_gradient_rms == pytest.approx(copied["gate"].output_gradient_rms, rel=1e-9)
    assert broadcast["gate"].weight("kernel").gradient_rms == pytest.approx(
        copied["gate"].weight("kernel").gradient_rms, rel=1e-9
    )
    one_position = copied["copies"].output_gradient_rms
    assert 8 <= broadcast["gate"].output_gradient_rms / one_position <= 64
    assert broadcast["main"].output_gradient_rms == pytest.approx(copied["main"].output_gradient_rms, rel=1e-9)
