"""The layer types and fields that imported architectures need (issue 10): what validation and the analysis refuse,
with the spec's line and column, and the lint gate's `ignore`. No TensorFlow: Keras's agreement is checked in
test_shapes_vs_keras.py, test_signal_vs_keras.py and test_build.py."""

from __future__ import annotations

import textwrap

import pytest

from modelspec import LintFailure, SpecError, load_spec
from modelspec.errors import SettingsError
from modelspec.pipeline import prepare
from tests.test_pipeline import ZEROS_HIDDEN


def _spec(layers: str, shape: str = "[8, 8, 3]", name: str = "case") -> str:
    return f"modelspec: 1\nname: {name}\ninput: {{shape: {shape}}}\nlayers:\n" + textwrap.dedent(layers)


def _errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(text)
    return [f"{d.line}:{d.column} {d.message}" for d in caught.value.diagnostics]


@pytest.mark.parametrize(
    "layers, expected",
    [
        ("  - {type: normalization, mean: [1.0, 2.0, 3.0]}\n", "5:3 give both mean and variance, or neither"),
        (
            "  - {type: normalization, mean: [1.0, 2.0], variance: [1.0, 1.0, 1.0]}\n",
            "5:43 variance must have the shape of mean (received: mean [1.0, 2.0], variance [1.0, 1.0, 1.0])",
        ),
        (
            "  - {type: normalization, mean: [1.0, 2.0], variance: [1.0, 1.0]}\n",
            "5:3 mean needs one value per channel: 3 here (received: 2 values)",
        ),
        ("  - {type: normalization, mean: 0.0, variance: -1.0}\n", "5:36 must be at least 0.0 (received: -1.0)"),
        ("  - {type: rescaling, scale: [0.5, 2.0]}\n", "5:3 scale needs one value per channel: 3 here"),
        (
            "  - {type: dropout, rate: 0.5, noise_shape: [null, 1, 3]}\n",
            "5:3 noise_shape must have one entry per axis, batch axis first, each null, 1 or the input's size: "
            "input shape (None, 8, 8, 3) (received: [null, 1, 3])",
        ),
        ("  - {type: dropout, rate: 0.5, noise_shape: [null, 2, 1, 3]}\n", "5:3 noise_shape must have one entry"),
        ("  - {type: cropping2d, cropping: [[4, 4], 0]}\n", "5:3 cropping 4 + 4 leaves nothing of an axis of length 8"),
        ("  - {type: cropping2d, cropping: [1, 2, 3]}\n", "5:22 must have at most 2 item(s) (received: [1, 2, 3])"),
        ("  - {type: cropping1d, cropping: 1}\n", "5:3 cropping1d expects inputs of rank 2"),
        ("  - {type: layer_scale, axis: 4}\n", "5:3 axis 4 is out of range for input shape (8, 8, 3)"),
        ("  - {type: layer_scale, init_value: .nan}\n", "5:23 must be a finite number (received: .nan)"),
    ],
)
def test_bad_values_are_located_errors(layers, expected):
    errors = _errors(_spec(layers))
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_model_names_may_hold_dots_and_dashes_but_no_paths():
    assert load_spec(_spec("  - {type: flatten}\n", name="mobilenetv2_1.00_224")).name == "mobilenetv2_1.00_224"
    assert load_spec(_spec("  - {type: flatten}\n", name="efficientnet-b0")).name == "efficientnet-b0"
    for bad in ("../up", "a/b", ".hidden"):
        assert any("name" in error for error in _errors(_spec("  - {type: flatten}\n", name=f"'{bad}'")))


def test_parameter_counts_of_the_new_layers():
    loaded = load_spec(
        _spec(
            """\
            - {type: normalization}
            - {type: normalization, mean: [0.0, 1.0, 2.0], variance: [1.0, 1.0, 4.0]}
            - {type: cropping2d, cropping: [[1, 0], [0, 2]]}
            - {type: layer_scale}
            - {type: dropout, rate: 0.2, noise_shape: [null, 1, 1, null]}
            """
        )
    )
    layers = loaded.analysis.layers
    assert [layers[name].params for name in layers] == [3 + 3 + 1, 0, 0, 3, 0]
    assert layers["cropping2d"].output_shape == (7, 6, 3)
    assert loaded.analysis.trainable_params == 3  # the adapted statistics are state, not trained


def test_build_ignore_lifts_the_lint_gate_like_lint_ignore():
    with pytest.raises(LintFailure):
        prepare(ZEROS_HIDDEN)
    assert [d.code for d in prepare(ZEROS_HIDDEN, ignore=["MS101"]).findings] == []
    assert prepare(ZEROS_HIDDEN, ignore=["constant-hidden-kernel"]).findings == []  # names and prefixes too
    assert prepare(ZEROS_HIDDEN, ignore=["MS1"]).findings == []
    with pytest.raises(SettingsError, match="--ignore: unknown rule 'MS999'"):
        prepare(ZEROS_HIDDEN, ignore=["MS999"])


def test_auto_looks_through_scaling_but_not_through_a_shift():
    """relu6(x + 3) / 6 is a hard sigmoid: the layer before the shift feeds no ReLU, and `auto` picks Glorot."""
    layers = """\
        - {type: dense, name: scaled, units: 8}
        - {type: rescaling, scale: 0.5}
        - {type: layer_scale, init_value: 0.1}
        - {type: activation, activation: relu}
        - {type: dense, name: shifted, units: 8}
        - {type: rescaling, scale: 1.0, offset: 3.0}
        - {type: activation, activation: relu6}
        - {type: dense, name: normalised, units: 8}
        - {type: normalization, mean: 1.0, variance: 4.0}
        - {type: activation, activation: relu}
        """
    analysis = load_spec(_spec(textwrap.indent(textwrap.dedent(layers), "  "), shape="[4]")).analysis
    chosen = {
        name: (info.feeds, info.initializers["kernel_initializer"].type)
        for name, info in analysis.layers.items()
        if info.type == "dense"
    }
    assert chosen["scaled"] == ("relu", "he_normal")
    assert chosen["shifted"] == ("linear", "glorot_uniform")
    assert chosen["normalised"] == ("linear", "glorot_uniform")
