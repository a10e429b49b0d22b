"""The static analysis agrees with Keras: every layer's output shape, variables and parameter counts.

Each case is a small spec; Keras builds it and every layer is compared with what `analysis` predicted, without
running any data through the model.
"""

from __future__ import annotations

import pytest

from modelspec import build_model, load_spec
from tests.conftest import SPEC_IDS, SPECS, keras_output_shape, size, spec_dict


def D(units, **kw):  # a short constructor keeps the case table readable
    return {"type": "dense", "units": units, **kw}


def L(type_, **kw):
    return {"type": type_, **kw}


def seq_input(shape, dtype="float32", name="input"):
    return {"name": name, "shape": list(shape), "dtype": dtype}


CASES = {
    # --- core ---
    "dense": spec_dict([D(3, activation="relu"), D(2, use_bias=False)], input_shape=[5]),
    "dense_on_3d": spec_dict([D(3)], input_shape=[4, 5]),
    "dense_on_4d_conv_output": spec_dict([L("conv2d", filters=2, kernel_size=3), D(3)], input_shape=[5, 5, 1]),
    "dense_frozen": spec_dict([D(3, trainable=False), D(2)], input_shape=[4]),
    "activation": spec_dict([L("activation", activation="tanh")], input_shape=[3, 2]),
    "dropout": spec_dict([L("dropout", rate=0.5), D(2)], input_shape=[4]),
    "alpha_dropout": spec_dict([L("alpha_dropout", rate=0.1), D(2)], input_shape=[4]),
    "gaussian_noise": spec_dict([L("gaussian_noise", stddev=0.1), D(2)], input_shape=[4]),
    "flatten": spec_dict([L("flatten"), D(2)], input_shape=[3, 4, 2]),
    "flatten_1d": spec_dict([L("flatten")], input_shape=[3]),
    "flatten_unknown_length": spec_dict([L("flatten")], input_shape=[None, 4]),
    "reshape": spec_dict([L("reshape", target_shape=[3, 4]), L("reshape", target_shape=[-1, 2])], input_shape=[12]),
    "reshape_unknown_length": spec_dict([L("reshape", target_shape=[-1, 2])], input_shape=[None, 4]),
    "permute": spec_dict([L("permute", dims=[2, 1]), D(2)], input_shape=[3, 4]),
    "permute_3d": spec_dict([L("permute", dims=[3, 1, 2])], input_shape=[3, 4, 5]),
    "embedding": {
        **spec_dict([L("embedding", input_dim=11, output_dim=3)], input_shape=[5]),
        "input": seq_input([5], "int32"),
    },
    "embedding_masked_lstm": {
        **spec_dict(
            [L("embedding", input_dim=7, output_dim=3, mask_zero=True), L("lstm", units=2)], input_shape=[None]
        ),
        "input": seq_input([None], "int32"),
    },
    "rescaling": spec_dict([L("rescaling", scale=0.5, offset=1.0)], input_shape=[2, 2]),
    "rescaling_per_channel": spec_dict(
        [L("rescaling", scale=[0.5, 2.0, 1.0], offset=[-1.0, 0.0, 1.0]), L("conv2d", filters=2, kernel_size=1)],
        input_shape=[4, 4, 3],
    ),
    "dropout_noise_shape": spec_dict(
        [L("dropout", rate=0.3, noise_shape=[None, 1, 1, 3]), L("conv2d", filters=2, kernel_size=1)],
        input_shape=[4, 4, 3],
    ),
    "normalization_constants": spec_dict(
        [L("normalization", mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 0.25]), D(2)], input_shape=[5, 3]
    ),
    "normalization_scalar_inverted": spec_dict(
        [L("normalization", axis=None, mean=0.5, variance=2.0, invert=True)], input_shape=[3, 2]
    ),
    "normalization_adapted_state": spec_dict([L("normalization"), D(2)], input_shape=[4, 3]),
    "normalization_adapted_two_axes": spec_dict([L("normalization", axis=[1, -1])], input_shape=[4, 5, 3]),
    "layer_scale": spec_dict([D(4), L("layer_scale", init_value=1e-5)], input_shape=[3]),
    "layer_scale_axis": spec_dict([L("layer_scale", axis=1, trainable=False)], input_shape=[4, 5, 3]),
    # --- convolutions ---
    "conv1d": spec_dict([L("conv1d", filters=3, kernel_size=3)], input_shape=[9, 2]),
    "conv1d_same_strided": spec_dict(
        [L("conv1d", filters=3, kernel_size=3, strides=2, padding="same")], input_shape=[9, 2]
    ),
    "conv1d_causal_dilated": spec_dict(
        [L("conv1d", filters=2, kernel_size=3, padding="causal", dilation_rate=2)], input_shape=[9, 2]
    ),
    "conv1d_groups_nobias": spec_dict(
        [L("conv1d", filters=4, kernel_size=2, groups=2, use_bias=False)], input_shape=[6, 4]
    ),
    "conv1d_unknown_length": spec_dict([L("conv1d", filters=2, kernel_size=3, strides=2)], input_shape=[None, 2]),
    "conv2d": spec_dict([L("conv2d", filters=3, kernel_size=3)], input_shape=[7, 6, 2]),
    "conv2d_same_strided": spec_dict(
        [L("conv2d", filters=3, kernel_size=[3, 2], strides=[2, 3], padding="same")], input_shape=[7, 8, 2]
    ),
    "conv2d_valid_strided": spec_dict([L("conv2d", filters=2, kernel_size=3, strides=2)], input_shape=[8, 9, 1]),
    "conv2d_dilated": spec_dict([L("conv2d", filters=2, kernel_size=3, dilation_rate=[2, 1])], input_shape=[9, 7, 1]),
    "conv2d_dilated_same": spec_dict(
        [L("conv2d", filters=2, kernel_size=3, dilation_rate=2, padding="same")], input_shape=[7, 7, 1]
    ),
    "conv2d_groups": spec_dict(
        [L("conv2d", filters=6, kernel_size=1, groups=3, use_bias=False)], input_shape=[4, 4, 3]
    ),
    "conv2d_frozen": spec_dict([L("conv2d", filters=2, kernel_size=2, trainable=False)], input_shape=[4, 4, 1]),
    "conv3d": spec_dict([L("conv3d", filters=2, kernel_size=[2, 3, 1], strides=[1, 2, 1])], input_shape=[4, 7, 3, 2]),
    "conv3d_same": spec_dict(
        [L("conv3d", filters=2, kernel_size=3, strides=2, padding="same", use_bias=False)], input_shape=[5, 5, 5, 1]
    ),
    "conv2d_transpose": spec_dict([L("conv2d_transpose", filters=2, kernel_size=3)], input_shape=[4, 5, 3]),
    "conv2d_transpose_strided": spec_dict(
        [L("conv2d_transpose", filters=2, kernel_size=3, strides=2)], input_shape=[4, 5, 3]
    ),
    "conv2d_transpose_stride_gt_kernel": spec_dict(
        [L("conv2d_transpose", filters=2, kernel_size=2, strides=3)], input_shape=[4, 5, 1]
    ),
    "conv2d_transpose_same": spec_dict(
        [L("conv2d_transpose", filters=2, kernel_size=[3, 4], strides=[2, 1], padding="same", use_bias=False)],
        input_shape=[4, 5, 3],
    ),
    "conv2d_transpose_dilated": spec_dict(
        [L("conv2d_transpose", filters=2, kernel_size=3, dilation_rate=2)], input_shape=[4, 5, 1]
    ),
    "separable_conv2d": spec_dict([L("separable_conv2d", filters=4, kernel_size=3)], input_shape=[6, 6, 3]),
    "separable_conv2d_multiplier": spec_dict(
        [
            L(
                "separable_conv2d",
                filters=5,
                kernel_size=[3, 2],
                strides=2,
                depth_multiplier=2,
                padding="same",
                use_bias=False,
            )
        ],
        input_shape=[7, 6, 3],
    ),
    "separable_conv2d_dilated": spec_dict(
        [L("separable_conv2d", filters=2, kernel_size=3, dilation_rate=2)], input_shape=[7, 7, 2]
    ),
    # Unlike conv2d, Keras's depthwise and separable convolutions accept strides and dilation together.
    "separable_conv2d_strided_dilated": spec_dict(
        [L("separable_conv2d", filters=2, kernel_size=3, strides=2, dilation_rate=2)], input_shape=[16, 15, 2]
    ),
    "depthwise_conv2d_strided_dilated": spec_dict(
        [L("depthwise_conv2d", kernel_size=3, strides=2, dilation_rate=2, padding="same")], input_shape=[16, 15, 2]
    ),
    "depthwise_conv2d": spec_dict([L("depthwise_conv2d", kernel_size=3)], input_shape=[6, 5, 3]),
    "depthwise_conv2d_multiplier": spec_dict(
        [L("depthwise_conv2d", kernel_size=2, strides=2, depth_multiplier=3, padding="same", use_bias=False)],
        input_shape=[5, 5, 2],
    ),
    # --- pooling, padding, up-sampling ---
    "max_pool1d": spec_dict([L("max_pool1d")], input_shape=[9, 2]),
    "max_pool1d_same_strided": spec_dict([L("max_pool1d", pool_size=3, strides=2, padding="same")], input_shape=[9, 2]),
    "average_pool1d": spec_dict([L("average_pool1d", pool_size=3, strides=1)], input_shape=[7, 2]),
    "max_pool2d": spec_dict([L("max_pool2d")], input_shape=[7, 6, 2]),
    "max_pool2d_same": spec_dict(
        [L("max_pool2d", pool_size=[3, 2], strides=[2, 2], padding="same")], input_shape=[7, 5, 2]
    ),
    "average_pool2d": spec_dict([L("average_pool2d", pool_size=3, strides=[1, 2])], input_shape=[7, 8, 1]),
    "average_pool2d_same": spec_dict([L("average_pool2d", pool_size=2, padding="same")], input_shape=[5, 5, 1]),
    "global_average_pool1d": spec_dict([L("global_average_pool1d")], input_shape=[5, 3]),
    "global_average_pool1d_keepdims": spec_dict([L("global_average_pool1d", keepdims=True)], input_shape=[5, 3]),
    "global_max_pool1d": spec_dict([L("global_max_pool1d")], input_shape=[None, 3]),
    "global_max_pool1d_keepdims": spec_dict([L("global_max_pool1d", keepdims=True)], input_shape=[5, 3]),
    "global_average_pool2d": spec_dict([L("global_average_pool2d")], input_shape=[4, 5, 3]),
    "global_average_pool2d_keepdims": spec_dict([L("global_average_pool2d", keepdims=True)], input_shape=[4, 5, 3]),
    "global_max_pool2d": spec_dict([L("global_max_pool2d")], input_shape=[4, 5, 3]),
    "global_max_pool2d_keepdims": spec_dict([L("global_max_pool2d", keepdims=True)], input_shape=[4, 5, 3]),
    "zero_padding2d_int": spec_dict([L("zero_padding2d", padding=2)], input_shape=[3, 4, 1]),
    "zero_padding2d_pair": spec_dict([L("zero_padding2d", padding=[1, 3])], input_shape=[3, 4, 1]),
    "zero_padding2d_explicit": spec_dict([L("zero_padding2d", padding=[[0, 1], [2, 3]])], input_shape=[3, 4, 1]),
    "zero_padding2d_default_with_defaults_padding": {
        **spec_dict([L("zero_padding2d"), L("conv2d", filters=1, kernel_size=3)], input_shape=[3, 4, 1]),
        "defaults": {"padding": "same"},
    },
    "up_sampling2d": spec_dict([L("up_sampling2d")], input_shape=[3, 4, 2]),
    "up_sampling2d_bilinear": spec_dict(
        [L("up_sampling2d", size=[2, 3], interpolation="bilinear")], input_shape=[3, 4, 2]
    ),
    # --- normalisation ---
    "batch_norm": spec_dict([L("batch_norm")], input_shape=[4]),
    "batch_norm_axis1": spec_dict([L("batch_norm", axis=1, center=False)], input_shape=[3, 5]),
    "batch_norm_on_conv": spec_dict(
        [L("conv2d", filters=3, kernel_size=1, use_bias=False), L("batch_norm")], input_shape=[4, 4, 2]
    ),
    "batch_norm_frozen": spec_dict([L("batch_norm", trainable=False)], input_shape=[4]),
    "batch_norm_no_scale": spec_dict([L("batch_norm", scale=False, center=False)], input_shape=[4]),
    "layer_norm": spec_dict([L("layer_norm")], input_shape=[3, 4]),
    "layer_norm_axis1_no_center": spec_dict([L("layer_norm", axis=1, center=False)], input_shape=[3, 4]),
    "layer_norm_no_scale": spec_dict([L("layer_norm", scale=False)], input_shape=[4]),
    # --- recurrent ---
    "lstm": spec_dict([L("lstm", units=3)], input_shape=[5, 2]),
    "lstm_sequences_nobias": spec_dict([L("lstm", units=3, return_sequences=True, use_bias=False)], input_shape=[5, 2]),
    "lstm_unknown_length": spec_dict(
        [L("lstm", units=2, return_sequences=True, go_backwards=True)], input_shape=[None, 3]
    ),
    "gru_reset_after": spec_dict([L("gru", units=3)], input_shape=[5, 2]),
    "gru_reset_before": spec_dict([L("gru", units=3, reset_after=False)], input_shape=[5, 2]),
    "gru_sequences_nobias": spec_dict([L("gru", units=2, return_sequences=True, use_bias=False)], input_shape=[4, 3]),
    "gru_reset_before_nobias": spec_dict([L("gru", units=2, reset_after=False, use_bias=False)], input_shape=[4, 3]),
    "simple_rnn": spec_dict([L("simple_rnn", units=3, activation="relu")], input_shape=[5, 2]),
    "simple_rnn_sequences_frozen": spec_dict(
        [L("simple_rnn", units=2, return_sequences=True, trainable=False)], input_shape=[5, 2]
    ),
    **{
        f"bidirectional_{inner}_{mode}": spec_dict(
            [L("bidirectional", merge_mode=mode, layer=L(inner, units=3, return_sequences=sequences))],
            input_shape=[4, 2],
        )
        for inner, mode, sequences in [
            ("lstm", "concat", False),
            ("lstm", "sum", True),
            ("gru", "mul", False),
            ("gru", "ave", True),
            ("simple_rnn", "concat", True),
            ("simple_rnn", "sum", False),
        ]
    },
    "bidirectional_gru_reset_before": spec_dict(
        [L("bidirectional", layer=L("gru", units=2, reset_after=False, use_bias=False))], input_shape=[4, 2]
    ),
    "bidirectional_frozen": spec_dict(
        [L("bidirectional", trainable=False, layer=L("lstm", units=2)), D(1)], input_shape=[4, 2]
    ),
    "bidirectional_inner_frozen": spec_dict(
        [L("bidirectional", layer=L("gru", units=2, trainable=False)), D(1)], input_shape=[4, 2]
    ),
    # --- attention ---
    "mha_self": spec_dict([L("multi_head_attention", num_heads=2, key_dim=3)], input_shape=[4, 5]),
    "mha_query_value": spec_dict(
        [
            L("dense", name="q", units=4, inputs=["query"]),
            L("dense", name="v", units=6, inputs=["value"]),
            L("multi_head_attention", num_heads=2, key_dim=3, inputs=["q", "v"]),
        ],
        inputs=[seq_input([5, 3], name="query"), seq_input([7, 2], name="value")],
    ),
    "mha_query_value_key": spec_dict(
        [L("multi_head_attention", num_heads=3, key_dim=2, value_dim=4, inputs=["query", "value", "key"])],
        inputs=[seq_input([5, 3], name="query"), seq_input([7, 2], name="value"), seq_input([7, 6], name="key")],
    ),
    "mha_value_dim_output_shape": spec_dict(
        [L("multi_head_attention", num_heads=2, key_dim=3, value_dim=5, output_shape=7, dropout=0.1)],
        input_shape=[4, 6],
    ),
    "mha_no_bias_frozen": spec_dict(
        [L("multi_head_attention", num_heads=1, key_dim=2, use_bias=False, trainable=False)], input_shape=[3, 4]
    ),
    "mha_2d_sequence": spec_dict([L("multi_head_attention", num_heads=2, key_dim=2)], input_shape=[3, 2, 4]),
    # --- merging ---
    **{
        merge: spec_dict(
            [D(3, name="a"), D(3, name="b", inputs=["input"]), L(merge, inputs=["a", "b"])], input_shape=[2]
        )
        for merge in ("add", "multiply", "average", "subtract", "concatenate")
    },
    "add_three": spec_dict(
        [D(3, name="a"), D(3, name="b", inputs=["input"]), L("add", inputs=["a", "b", "input"])], input_shape=[3]
    ),
    "add_broadcast": spec_dict(
        [
            L("conv1d", name="a", filters=3, kernel_size=1),
            L("global_average_pool1d", name="b", keepdims=True, inputs=["input"]),
            L("add", inputs=["a", "b"]),
        ],
        input_shape=[4, 3],
    ),
    "concatenate_axis1": spec_dict(
        [
            L("conv1d", name="a", filters=2, kernel_size=2),
            L("conv1d", name="b", filters=2, kernel_size=3, inputs=["input"]),
            L("concatenate", axis=1, inputs=["a", "b"]),
        ],
        input_shape=[5, 3],
    ),
    "concatenate_axis_minus2": spec_dict(
        [L("concatenate", axis=-2, inputs=["x", "y"])],
        inputs=[seq_input([2, 3], name="x"), seq_input([4, 3], name="y")],
    ),
    "cropping1d": spec_dict(
        [L("cropping1d", cropping=[2, 1]), L("conv1d", filters=2, kernel_size=2)], input_shape=[9, 3]
    ),
    "cropping2d": spec_dict([L("cropping2d", cropping=[[1, 2], 3])], input_shape=[7, 8, 2]),
    "cropping2d_unknown_size": spec_dict([L("cropping2d", cropping=1)], input_shape=[None, 8, 2]),
    "cropping3d": spec_dict([L("cropping3d", cropping=[1, [0, 2], 1])], input_shape=[5, 6, 7, 2]),
    # --- pass-through of built-in Keras layers ---
    "keras_leaky_relu": spec_dict(
        [L("keras", class_name="LeakyReLU", config={"negative_slope": 0.2}), D(2)], input_shape=[3]
    ),
    "keras_spatial_dropout": spec_dict(
        [L("keras", class_name="SpatialDropout1D", config={"rate": 0.2}), L("conv1d", filters=2, kernel_size=2)],
        input_shape=[5, 3],
    ),
    "keras_frozen_softmax": spec_dict([D(3), L("keras", class_name="Softmax", trainable=False)], input_shape=[2]),
}


@pytest.fixture(scope="module")
def built(keras):
    """Build every case once: (analysis, keras model) by case name, or the exception Keras raised."""
    out = {}
    for name, spec in CASES.items():
        try:
            loaded = load_spec(spec)
            out[name] = (loaded.analysis, build_model(loaded, seed=1))
        except Exception as exc:  # reported by the case's own test, so one failure does not hide the others
            out[name] = exc
    return out


def _trainable_ids(layer) -> set[int]:
    return {id(v) for v in layer.trainable_weights}


def assert_agrees(analysis, model) -> None:
    """Compare every analysed layer, and the totals, with the Keras model."""
    for name, info in analysis.layers.items():
        layer = model.get_layer(name)
        where = f"layer {name!r} ({info.type})"
        assert info.output_shape == keras_output_shape(layer), where
        trainable = _trainable_ids(layer)
        keras_variables = sorted((tuple(int(d) for d in v.shape), id(v) in trainable) for v in layer.weights)
        static_variables = sorted((v.shape, v.trainable) for v in info.variables)
        assert static_variables == keras_variables, where
        assert info.params == layer.count_params(), where
        assert info.trainable_params == sum(size(v.shape) for v in layer.trainable_weights), where
    assert analysis.complete
    assert analysis.total_params == model.count_params()
    assert analysis.trainable_params == sum(size(v.shape) for v in model.trainable_weights)
    assert analysis.non_trainable_params == sum(size(v.shape) for v in model.non_trainable_weights)


@pytest.mark.parametrize("case", list(CASES))
def test_static_analysis_matches_keras(built, case):
    if isinstance(built[case], Exception):
        raise built[case]
    analysis, model = built[case]
    assert_agrees(analysis, model)


FIRST_CLASS = {
    "dense",
    "activation",
    "dropout",
    "alpha_dropout",
    "gaussian_noise",
    "flatten",
    "reshape",
    "permute",
    "embedding",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv2d_transpose",
    "separable_conv2d",
    "depthwise_conv2d",
    "max_pool1d",
    "max_pool2d",
    "average_pool1d",
    "average_pool2d",
    "global_average_pool1d",
    "global_average_pool2d",
    "global_max_pool1d",
    "global_max_pool2d",
    "zero_padding2d",
    "up_sampling2d",
    "batch_norm",
    "layer_norm",
    "lstm",
    "gru",
    "simple_rnn",
    "bidirectional",
    "multi_head_attention",
    "add",
    "concatenate",
    "multiply",
    "average",
    "subtract",
    "rescaling",
    "normalization",
    "layer_scale",
    "cropping1d",
    "cropping2d",
    "cropping3d",
    "keras",
}


def test_cases_cover_every_layer_type():
    from modelspec.schema import LAYER_TYPES

    covered = {layer["type"] for spec in CASES.values() for layer in spec["layers"]}
    assert set(LAYER_TYPES) == FIRST_CLASS  # DESIGN.md's list of first-class layer types
    assert covered == FIRST_CLASS


@pytest.mark.parametrize("path", SPECS, ids=SPEC_IDS)
def test_every_committed_spec_matches_keras(keras, path):
    loaded = load_spec(path)
    assert_agrees(loaded.analysis, build_model(loaded))


@pytest.mark.parametrize(
    "class_name, config, input_shape",
    [
        ("PReLU", {}, [3, 2]),
        ("Cropping2D", {"cropping": [1, 2]}, [5, 6, 1]),
        ("RepeatVector", {"n": 3}, [4]),
    ],
)
def test_opaque_keras_layers_are_unknown_not_wrong(keras, class_name, config, input_shape):
    """A pass-through layer the analysis does not model reports unknown shape and parameters, never a guess."""
    spec = spec_dict([L("keras", name="opaque", class_name=class_name, config=config)], input_shape=input_shape)
    loaded = load_spec(spec)
    info = loaded.analysis.layers["opaque"]
    assert (info.output_shape, info.variables, info.params) == (None, None, None)
    assert not loaded.analysis.complete
    model = build_model(loaded)  # Keras itself knows: the layer builds fine
    assert model.get_layer("opaque").output is not None


# --- what Keras refuses, the analysis refuses too (before TensorFlow is ever needed) ------------------------


def _keras_transpose_strided_dilated(keras):
    keras.layers.Conv2DTranspose(2, 3, strides=2, dilation_rate=2)(keras.Input((6, 6, 1)))


def _keras_conv_strided_dilated(keras):
    keras.layers.Conv2D(2, 3, strides=2, dilation_rate=2)(keras.Input((8, 8, 1)))


def _keras_attention_key_value_lengths(keras):
    keras.layers.MultiHeadAttention(1, 2)(keras.Input((3, 4)), keras.Input((5, 4)), keras.Input((6, 4)))


def _keras_add_shapes(keras):
    keras.layers.Add()([keras.Input((4,)), keras.Input((3,))])


def _keras_kernel_too_big(keras):
    keras.layers.Conv2D(2, 5)(keras.Input((4, 4, 1)))


def _keras_reshape_size(keras):
    keras.layers.Reshape((3, 2))(keras.Input((4,)))


def _keras_lstm_flat(keras):
    keras.layers.LSTM(2)(keras.Input((4,)))


def _keras_crop_everything(keras):
    keras.layers.Cropping2D(((2, 2), (0, 0)))(keras.Input((4, 4, 1)))


def _keras_normalization_size(keras):
    try:
        keras.layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])(keras.Input((4, 3)))
    except Exception as exc:  # TensorFlow's InvalidArgumentError (cannot broadcast), not a ValueError
        raise ValueError(str(exc)) from exc


REFUSED = {
    "conv2d_transpose_strides_with_dilation": (
        _keras_transpose_strided_dilated,
        spec_dict([L("conv2d_transpose", filters=2, kernel_size=3, strides=2, dilation_rate=2)], input_shape=[6, 6, 1]),
    ),
    "conv2d_strides_with_dilation": (
        _keras_conv_strided_dilated,
        spec_dict([L("conv2d", filters=2, kernel_size=3, strides=2, dilation_rate=2)], input_shape=[8, 8, 1]),
    ),
    "attention_key_value_lengths": (
        _keras_attention_key_value_lengths,
        spec_dict(
            [L("multi_head_attention", num_heads=1, key_dim=2, inputs=["q", "v", "k"])],
            inputs=[seq_input([3, 4], name="q"), seq_input([5, 4], name="v"), seq_input([6, 4], name="k")],
        ),
    ),
    "add_of_different_shapes": (
        _keras_add_shapes,
        spec_dict([L("add", inputs=["a", "b"])], inputs=[seq_input([4], name="a"), seq_input([3], name="b")]),
    ),
    "kernel_bigger_than_input": (
        _keras_kernel_too_big,
        spec_dict([L("conv2d", filters=2, kernel_size=5)], input_shape=[4, 4, 1]),
    ),
    "reshape_to_wrong_size": (_keras_reshape_size, spec_dict([L("reshape", target_shape=[3, 2])], input_shape=[4])),
    "lstm_on_flat_input": (_keras_lstm_flat, spec_dict([L("lstm", units=2)], input_shape=[4])),
    "cropping_everything": (
        _keras_crop_everything,
        spec_dict([L("cropping2d", cropping=[[2, 2], 0])], input_shape=[4, 4, 1]),
    ),
    "normalization_mean_per_channel_size": (
        _keras_normalization_size,
        spec_dict([L("normalization", mean=[1.0, 2.0], variance=[1.0, 1.0])], input_shape=[4, 3]),
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_keras_refuses_is_a_spec_error(keras, case):
    from modelspec import SpecError

    keras_build, spec = REFUSED[case]
    with pytest.raises(ValueError):
        keras_build(keras)
    with pytest.raises(SpecError):
        load_spec(spec)
