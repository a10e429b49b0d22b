"""Building specs with real Keras: saved files, seeds, `auto` initializers and compile settings."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner

from modelspec import build_model, load_spec
from modelspec.cli import cli
from tests.conftest import ROOT, SPEC_IDS, SPECS, python, spec_dict

pytestmark = pytest.mark.tensorflow

KERNEL_NAMES = ("kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel", "embeddings")


def random_batch(loaded, rng, batch=3) -> list[np.ndarray]:
    """One random batch per model input: token ids below 100 for integer inputs, normal noise otherwise."""
    arrays = []
    for info in loaded.analysis.inputs.values():
        shape = (batch,) + tuple(6 if d is None else d for d in info.shape)
        if info.dtype.startswith("int"):
            arrays.append(rng.integers(0, 100, shape).astype(info.dtype))
        else:
            arrays.append(rng.standard_normal(shape).astype(info.dtype))
    return arrays


def outputs_of(model, arrays) -> list[np.ndarray]:
    predictions = model.predict(arrays if len(arrays) > 1 else arrays[0], verbose=0)
    return [np.asarray(p) for p in (predictions if isinstance(predictions, list) else [predictions])]


# --- every committed spec: build, save through the CLI, load without modelspec -------------------------------

LOADER = """
import json, sys
import numpy as np
import keras

report = {}
for stem in json.load(open("stems.json")):
    model = keras.saving.load_model(f"{stem}.keras")
    batch = np.load(f"{stem}.batch.npz")
    arrays = [batch[f"arr_{i}"] for i in range(len(batch.files))]
    predictions = model.predict(arrays if len(arrays) > 1 else arrays[0], verbose=0)
    predictions = predictions if isinstance(predictions, list) else [predictions]
    np.savez(f"{stem}.loaded.npz", *[np.asarray(p) for p in predictions])
    np.savez(f"{stem}.weights.npz", *[np.asarray(w) for w in model.get_weights()])
    report[stem] = {"params": model.count_params(), "compiled": getattr(model, "optimizer", None) is not None}
report["modelspec_imported"] = any(name.split(".")[0] == "modelspec" for name in sys.modules)
json.dump(report, open("report.json", "w"))
"""


@pytest.fixture(scope="module")
def saved(keras, tmp_path_factory):
    """Build every spec in process, write it with `modelspec build -o`, then load and run it in a fresh process."""
    folder = tmp_path_factory.mktemp("saved")
    rng = np.random.default_rng(0)
    runner = CliRunner()
    in_process = {}
    for path in SPECS:
        result = runner.invoke(
            cli, ["build", str(path), "-o", str(folder / f"{path.stem}.keras")], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        loaded = load_spec(path)
        model = build_model(loaded)
        arrays = random_batch(loaded, rng)
        np.savez(folder / f"{path.stem}.batch.npz", *arrays)
        in_process[path.stem] = (loaded, model, outputs_of(model, arrays))
    (folder / "stems.json").write_text(json.dumps(SPEC_IDS))
    process = python(LOADER, cwd=folder, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    return folder, in_process, json.loads((folder / "report.json").read_text())


def test_loading_never_imports_modelspec(saved):
    _, _, report = saved
    assert report["modelspec_imported"] is False


@pytest.mark.parametrize("stem", SPEC_IDS)
def test_saved_spec_loads_in_plain_keras_and_predicts_identically(saved, stem):
    folder, in_process, report = saved
    loaded, model, expected = in_process[stem]
    with np.load(folder / f"{stem}.loaded.npz") as npz:
        actual = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    assert len(actual) == len(expected) == len(loaded.analysis.outputs)
    for got, want in zip(actual, expected):
        np.testing.assert_array_equal(got, want)
    # the file holds the weights that the spec's seed gives in this process too: builds are reproducible
    with np.load(folder / f"{stem}.weights.npz") as npz:
        weights = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    for got, want in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert report[stem]["params"] == model.count_params() == loaded.analysis.total_params
    assert report[stem]["compiled"] == (loaded.spec.training is not None)


# --- seeds --------------------------------------------------------------------------------------------------

ZOO = spec_dict(
    [
        {"type": "dense", "name": "d1", "units": 4, "activation": "relu"},
        {"type": "dense", "name": "d2", "units": 4, "activation": "relu"},
        {"type": "dense", "name": "d3", "units": 4, "activation": "relu"},
        {"type": "multi_head_attention", "name": "mha", "num_heads": 4, "key_dim": 4},  # q/k/v/out kernels: (4, 4, 4)
        {"type": "bidirectional", "name": "bi", "layer": {"type": "lstm", "units": 3, "return_sequences": True}},
        {
            "type": "bidirectional",
            "name": "bi_gru",
            "merge_mode": "sum",
            "layer": {"type": "gru", "units": 6, "return_sequences": True},
        },
        {"type": "reshape", "target_shape": [4, 3, 2]},
        {"type": "conv2d", "name": "c1", "filters": 2, "kernel_size": 2, "padding": "same"},
        {"type": "conv2d", "name": "c2", "filters": 2, "kernel_size": 2, "padding": "same"},
        {"type": "separable_conv2d", "name": "sep", "filters": 2, "kernel_size": 1},
        {"type": "depthwise_conv2d", "name": "dw", "kernel_size": 1},
        {"type": "batch_norm"},
        {"type": "flatten"},
        {"type": "gaussian_noise", "stddev": 0.1},
        {"type": "dense", "name": "out", "units": 2},
    ],
    input_shape=[4, 4],
    seed=123,
)


def kernels(model) -> dict[str, np.ndarray]:
    return {v.path: np.asarray(v) for v in model.weights if v.path.rsplit("/", 1)[-1] in KERNEL_NAMES}


@pytest.fixture(scope="module")
def zoo(keras):
    return {
        "first": build_model(ZOO),
        "again": build_model(ZOO),
        "other": build_model(ZOO, seed=124),
        "unseeded": build_model({**ZOO, "seed": None}),
    }


def test_same_seed_gives_bit_identical_weights(zoo):
    first, again = zoo["first"].weights, zoo["again"].weights
    assert [v.path for v in first] == [v.path for v in again]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)


def test_seed_argument_changes_every_random_weight(zoo):
    first, other = kernels(zoo["first"]), kernels(zoo["other"])
    assert first.keys() == other.keys()
    for path in first:
        assert not np.array_equal(first[path], other[path]), path


@pytest.mark.parametrize("which", ["first", "unseeded"])
def test_no_two_kernels_of_one_shape_are_equal(zoo, which):
    by_path = kernels(zoo[which])
    # the zoo is built so that equal shapes meet: attention's four projections, both directions, twin layers
    assert {"mha/query/kernel", "mha/key/kernel", "mha/value/kernel", "mha/attention_output/kernel"} <= set(by_path)
    pairs = [(a, b) for a, b in itertools.combinations(by_path, 2) if by_path[a].shape == by_path[b].shape]
    assert len(pairs) >= 12
    for a, b in pairs:
        assert not np.array_equal(by_path[a], by_path[b]), f"{a} == {b}"


def test_explicit_seed_on_bidirectional_still_gives_two_directions(keras):
    """A seed written once on the wrapped layer must not start the forward and backward layers identical."""
    inner = {
        "type": "gru",
        "units": 3,
        "kernel_initializer": {"type": "glorot_uniform", "seed": 7},
        "recurrent_initializer": {"type": "orthogonal", "seed": 8},
    }
    spec = spec_dict([{"type": "bidirectional", "name": "bi", "layer": inner}], input_shape=[4, 3])
    first, again = build_model(spec), build_model(spec)
    by_path = kernels(first)
    assert len(by_path) == 4
    for a, b in itertools.combinations(by_path, 2):
        assert not np.array_equal(by_path[a], by_path[b]), f"{a} == {b}"
    for a, b in zip(first.weights, again.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --- `auto` initializers, checked on the built Keras layers ---------------------------------------------------

AUTO_BY_ACTIVATION = {
    **dict.fromkeys(["relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish", "mish"], "HeNormal"),
    **dict.fromkeys(["tanh", "sigmoid", "softmax", "softsign", "linear"], "GlorotUniform"),
    "selu": "LecunNormal",
}


def initializer_class(initializer) -> str:
    return type(initializer).__name__


@pytest.fixture(scope="module")
def auto_model(keras):
    dense = [
        {"type": "dense", "name": f"d_{activation}", "units": 2, "activation": activation, "inputs": ["input"]}
        for activation in AUTO_BY_ACTIVATION
    ]
    layers = dense + [
        {"type": "concatenate", "name": "all", "inputs": [layer["name"] for layer in dense]},
        {"type": "dense", "name": "before_dropout", "units": 4},
        {"type": "dropout", "rate": 0.1},
        {"type": "dropout", "rate": 0.1},
        {"type": "activation", "activation": "relu"},
        {"type": "dense", "name": "before_bn", "units": 4, "use_bias": False},
        {"type": "batch_norm"},
        {"type": "activation", "activation": "selu"},
        {"type": "dense", "name": "before_tanh", "units": 4},
        {"type": "batch_norm"},
        {"type": "dropout", "rate": 0.1},
        {"type": "activation", "name": "tanh_act", "activation": "tanh"},
        {"type": "dense", "name": "explicit", "units": 4, "activation": "relu", "kernel_initializer": "zeros"},
        {"type": "reshape", "target_shape": [2, 2]},
        {"type": "lstm", "name": "lstm", "units": 2, "return_sequences": True},
        {"type": "simple_rnn", "name": "rnn_relu", "units": 2, "activation": "relu", "return_sequences": True},
        {"type": "bidirectional", "name": "bi", "layer": {"type": "gru", "units": 2, "return_sequences": True}},
        {"type": "multi_head_attention", "name": "mha", "num_heads": 1, "key_dim": 2},
        {"type": "reshape", "target_shape": [2, 4, 1]},
        {"type": "conv2d", "name": "conv_bn", "filters": 2, "kernel_size": 1},
        {"type": "batch_norm"},
        {"type": "activation", "activation": "gelu"},
        {"type": "separable_conv2d", "name": "sep", "filters": 2, "kernel_size": 1, "activation": "relu"},
        {"type": "depthwise_conv2d", "name": "dw", "kernel_size": 1, "activation": "tanh"},
        {
            "type": "depthwise_conv2d",
            "name": "dw_relu_x2",
            "kernel_size": 1,
            "activation": "relu",
            "depth_multiplier": 2,
        },
        {"type": "flatten"},
        {"type": "dense", "name": "logits", "units": 3},
    ]
    # `explicit` is a zeros kernel on a hidden layer (MS101): the lint gate is off, this is about `auto`.
    return build_model(spec_dict(layers, input_shape=[3], outputs=["logits"]), lint=False)


@pytest.mark.parametrize("activation, expected", AUTO_BY_ACTIVATION.items())
def test_auto_picks_from_the_activation(auto_model, activation, expected):
    layer = auto_model.get_layer(f"d_{activation}")
    assert initializer_class(layer.kernel_initializer) == expected
    assert initializer_class(layer.bias_initializer) == "Zeros"


@pytest.mark.parametrize(
    "name, attribute, expected",
    [
        ("before_dropout", "kernel_initializer", "HeNormal"),  # looks through dropout to the relu layer
        ("before_bn", "kernel_initializer", "LecunNormal"),  # through batch_norm to selu
        ("before_tanh", "kernel_initializer", "GlorotUniform"),  # through batch_norm and dropout to tanh
        ("explicit", "kernel_initializer", "Zeros"),  # an explicit choice is kept
        ("lstm", "kernel_initializer", "GlorotUniform"),  # tanh
        ("lstm", "recurrent_initializer", "Orthogonal"),
        ("rnn_relu", "kernel_initializer", "HeNormal"),
        ("rnn_relu", "recurrent_initializer", "Orthogonal"),
        ("conv_bn", "kernel_initializer", "HeNormal"),  # through batch_norm to gelu
        ("sep", "pointwise_initializer", "HeNormal"),
        ("logits", "kernel_initializer", "GlorotUniform"),  # linear output
    ],
)
def test_auto_on_built_layers(auto_model, name, attribute, expected):
    assert initializer_class(getattr(auto_model.get_layer(name), attribute)) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        # a separable convolution's depthwise step feeds its pointwise step: linear, variance 1 / (kh·kw)
        ("sep", {"scale": 1.0, "mode": "fan_out", "distribution": "uniform"}),
        # tanh after a depthwise kernel: Glorot's scale 1 over the window, not over window × channels
        ("dw", {"scale": 1.0, "mode": "fan_out", "distribution": "uniform"}),
        ("dw_relu_x2", {"scale": 4.0, "mode": "fan_out", "distribution": "truncated_normal"}),
    ],
)
def test_auto_on_depthwise_kernels_scales_by_the_window(auto_model, name, expected):
    """Keras's fan_in of a (kh, kw, C, m) depthwise kernel is kh·kw·C, but an output sums kh·kw terms: `auto`
    takes the activation's scale × m over fan_out = kh·kw·m, so that the variance is right for kh·kw terms."""
    layer = auto_model.get_layer(name)
    initializer = layer.depthwise_initializer
    assert initializer_class(initializer) == "VarianceScaling"
    assert {key: initializer.get_config()[key] for key in expected} == expected


def test_auto_depthwise_kernel_has_the_variance_of_its_window(keras):
    spec = spec_dict(
        [{"type": "depthwise_conv2d", "name": "dw", "kernel_size": 3, "activation": "relu", "depth_multiplier": 2}],
        input_shape=[8, 8, 128],
        seed=5,
    )
    kernel = np.asarray(build_model(spec).get_layer("dw").kernel)  # (3, 3, 128, 2): 2,304 weights
    assert kernel.var() == pytest.approx(2 / 9, rel=0.1)  # He's 2 / fan_in with fan_in = the 9 taps an output sums


def test_auto_on_bidirectional_and_attention(auto_model):
    bi = auto_model.get_layer("bi")
    for direction in (bi.forward_layer, bi.backward_layer):
        assert initializer_class(direction.kernel_initializer) == "GlorotUniform"
        assert initializer_class(direction.recurrent_initializer) == "Orthogonal"
    config = auto_model.get_layer("mha").get_config()  # the config Keras clones into all four projections
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["bias_initializer"]["class_name"] == "Zeros"


def test_defaults_override_auto(keras):
    spec = spec_dict(
        [
            {"type": "dense", "name": "a", "units": 2, "activation": "relu"},
            {"type": "dense", "name": "b", "units": 2, "kernel_initializer": "he_uniform"},
        ],
        input_shape=[3],
        defaults={"kernel_initializer": "lecun_uniform", "bias_initializer": "ones"},
    )
    model = build_model(spec)
    assert initializer_class(model.get_layer("a").kernel_initializer) == "LecunUniform"
    assert initializer_class(model.get_layer("a").bias_initializer) == "Ones"
    assert initializer_class(model.get_layer("b").kernel_initializer) == "HeUniform"


# --- training: compile settings ---------------------------------------------------------------------------


def test_mlp_compiles_with_sgd_schedule_and_loss(keras):
    model = build_model(ROOT / "specs" / "mlp.yaml")
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    config = model.optimizer.get_config()
    assert config["momentum"] == pytest.approx(0.9)
    assert config["nesterov"] is False
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "ExponentialDecay"
    assert schedule["config"]["initial_learning_rate"] == pytest.approx(0.1)
    assert schedule["config"]["decay_steps"] == 1000
    assert schedule["config"]["decay_rate"] == pytest.approx(0.96)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    assert model.loss.get_config()["from_logits"] is False
    assert model.get_compile_config()["metrics"] == ["accuracy"]


def test_cnn_compiles_with_logits_loss(keras):
    model = build_model(ROOT / "specs" / "cnn.yaml")
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert model.loss.get_config()["from_logits"] is True


def test_multi_output_spec_gets_one_loss_per_output(keras):
    model = build_model(ROOT / "specs" / "multi_io.yaml")
    assert [type(loss).__name__ for loss in model.loss] == ["CategoricalCrossentropy", "MeanSquaredError"]


def test_resnet_compiles_with_nesterov_and_cosine_decay(keras):
    model = build_model(ROOT / "specs" / "resnet.yaml")
    config = model.optimizer.get_config()
    assert config["nesterov"] is True
    assert config["learning_rate"]["class_name"] == "CosineDecay"
    assert config["learning_rate"]["config"]["initial_learning_rate"] == pytest.approx(0.05)
    assert config["learning_rate"]["config"]["decay_steps"] == 10000


def test_piecewise_schedule_adamw_and_training_step(keras):
    training = {
        "optimizer": {"type": "adamw", "learning_rate": 0.01, "weight_decay": 0.1, "clipnorm": 1.0},
        "learning_rate_schedule": {"type": "piecewise_constant", "boundaries": [10], "values": [0.5, 0.1]},
        "loss": {"type": "binary_crossentropy", "from_logits": True, "label_smoothing": 0.1},
    }
    model = build_model(spec_dict([{"type": "dense", "units": 1}], input_shape=[3], seed=0, training=training))
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    config = model.optimizer.get_config()
    assert config["weight_decay"] == pytest.approx(0.1)
    assert config["clipnorm"] == pytest.approx(1.0)
    schedule = keras.optimizers.schedules.deserialize(config["learning_rate"])
    assert isinstance(schedule, keras.optimizers.schedules.PiecewiseConstantDecay)
    assert [float(schedule(0)), float(schedule(20))] == pytest.approx([0.5, 0.1])
    assert model.loss.get_config()["from_logits"] is True
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    history = model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_spec_without_training_is_not_compiled(keras):
    model = build_model(spec_dict([{"type": "dense", "units": 1}], input_shape=[3]))
    assert getattr(model, "optimizer", None) is None


# --- examples ---------------------------------------------------------------------------------------------

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_example_runs(example):
    process = python(
        f"import runpy, sys; sys.argv = [{str(example)!r}]; runpy.run_path({str(example)!r}, run_name='__main__')",
        cwd=ROOT,
        timeout=300,
    )
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]


# --- the layers imported architectures need (issue 10) ------------------------------------------------------

IMPORTED_LAYERS = """\
modelspec: 1
name: mobilenetv2_1.00_224
seed: 3
input: {shape: [10, 10, 3]}
layers:
  - {type: normalization, mean: [120.0, 110.0, 100.0], variance: [3600.0, 3500.0, 3400.0]}
  - {type: rescaling, scale: [1.0, 0.5, 2.0], offset: [0.0, 0.1, -0.1]}
  - {type: cropping2d, cropping: [[1, 0], [0, 1]]}
  - {type: conv2d, name: conv, filters: 4, kernel_size: 3, activation: hard_swish, padding: same}
  - {type: layer_scale, name: scale, init_value: 0.25}
  - {type: dropout, rate: 0.5, noise_shape: [null, 1, 1, null]}
  - {type: normalization}
  - {type: global_average_pool2d}
"""


def test_imported_layers_build_save_and_load_again(keras, tmp_path, monkeypatch):
    """layer_scale is modelspec's own Keras layer: a saved model holding it loads with keras.saving.load_model
    once modelspec's runtime is imported, and computes the same outputs; the other layers are Keras's."""
    spec = tmp_path / "imported.yaml"
    spec.write_text(IMPORTED_LAYERS)
    monkeypatch.chdir(tmp_path)  # the default output goes to the current folder: the test's, not the repository
    result = CliRunner().invoke(cli, ["build", str(spec)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = tmp_path / "mobilenetv2_1.00_224.keras"  # the default output name keeps the dots of the model name
    assert result.output.endswith("Wrote mobilenetv2_1.00_224.keras\n")
    model = build_model(spec)
    assert model.name == "mobilenetv2_1.00_224"
    np.testing.assert_array_equal(np.asarray(model.get_layer("scale").weights[0]), np.full(4, 0.25, "float32"))
    assert model.get_layer("conv").get_config()["activation"] == "hard_silu"
    loaded = keras.saving.load_model(out)
    assert type(loaded.get_layer("scale")).__name__ == "LayerScale"
    batch = np.random.default_rng(0).uniform(0, 255, (4, 10, 10, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(batch)), np.asarray(model(batch)))
    assert loaded.count_params() == model.count_params() == load_spec(spec).analysis.total_params


def test_build_ignore_lets_a_gated_spec_build(tmp_path):
    spec = tmp_path / "zeros.yaml"
    spec.write_text(
        "modelspec: 1\nseed: 1\ninput: {shape: [4]}\nlayers:\n"
        "  - {type: dense, units: 8, activation: relu, kernel_initializer: zeros}\n"
        "  - {type: dense, units: 2, activation: softmax}\n"
    )
    out = tmp_path / "zeros.keras"
    stopped = CliRunner().invoke(cli, ["build", str(spec), "-o", str(out)], catch_exceptions=False)
    assert stopped.exit_code == 1 and "MS101" in stopped.output and not out.exists()
    unknown = CliRunner().invoke(cli, ["build", str(spec), "-o", str(out), "--ignore", "MS999"])
    assert unknown.exit_code == 2 and "--ignore: unknown rule 'MS999'" in unknown.output and not out.exists()
    built = CliRunner().invoke(
        cli, ["build", str(spec), "-o", str(out), "--ignore", "MS109, constant-hidden-kernel"], catch_exceptions=False
    )
    assert built.exit_code == 0, built.output
    assert out.exists() and "MS101" not in built.output


def test_adapted_normalization_takes_its_statistics_from_the_weights(keras, tmp_path):
    """`type: normalization` without mean and variance is Keras's adapted state: loaded from weights, it
    normalises exactly as the adapted original does."""
    inputs = keras.Input((6, 3))
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(0).normal(5, 2, (50, 6, 3)).astype("float32"))
    original = keras.Model(inputs, keras.layers.Dense(2, name="d")(norm(inputs)))
    original.save_weights(tmp_path / "w.weights.h5")
    spec = tmp_path / "adapted.yaml"
    spec.write_text(
        "modelspec: 1\nseed: 1\ninput: {shape: [6, 3]}\nlayers:\n"
        "  - {type: normalization, name: norm}\n  - {type: dense, name: d, units: 2}\n"
        "pretrained: {path: w.weights.h5}\n"
    )
    rebuilt = build_model(spec)
    batch = np.random.default_rng(1).normal(5, 2, (4, 6, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(rebuilt(batch)), np.asarray(original(batch)))
    assert rebuilt.count_params() == original.count_params() == load_spec(spec).analysis.total_params
