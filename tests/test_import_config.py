"""`modelspec import` of hand-written configs, without TensorFlow: how the spec is written, and the refusal of
what a spec cannot hold and of what could be hostile.

The configs here are written by hand as Keras 3 serialises them (`model.to_json()`, a .keras archive's
config.json); tests/test_import.py checks against real Keras models.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelspec.cli import cli
from modelspec.importer import UnsupportedModel, import_config, import_file


def _tensor(layer: str, shape=(None, 4)) -> dict:
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": list(shape), "dtype": "float32", "keras_history": [layer, 0, 0]},
    }


def _layer(class_name: str, name: str, config: dict, inputs: list, module: str = "keras.layers", **extra) -> dict:
    args = [_tensor(i) for i in inputs] if len(inputs) == 1 else [[_tensor(i) for i in inputs]]
    return {
        "module": module,
        "class_name": class_name,
        "config": {"name": name, "trainable": True, "dtype": "float32", **config},
        "registered_name": extra.get("registered_name"),
        "name": name,
        "inbound_nodes": [{"args": args, "kwargs": {}}],
    }


def _model(layers: list, outputs: str, **extra) -> dict:
    source = {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "x"},
        "registered_name": None,
        "name": "x",
        "inbound_nodes": [],
    }
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "m",
            "trainable": True,
            "layers": [source, *layers],
            "input_layers": ["x", 0, 0],
            "output_layers": [outputs, 0, 0],
        },
        "registered_name": "Functional",
        **extra,
    }


DENSE = {"units": 3, "activation": "relu", "use_bias": True}


def _run(*args: str):
    return CliRunner().invoke(cli, ["import", *args], catch_exceptions=False)


def test_a_plain_config_imports_and_the_spec_reads_back(tmp_path):
    config = _model([_layer("Dense", "hidden", DENSE, ["x"]), _layer("Dense", "out", {"units": 2}, ["hidden"])], "out")
    text = import_config(config).text
    assert "- {type: dense, name: hidden, units: 3, activation: relu}\n" in text
    assert "- {type: dense, name: out, units: 2}\n" in text
    assert text.startswith("# yaml-language-server: $schema=")


def test_defaults_are_hoisted_without_changing_any_layer():
    layers = [_layer("Dense", f"d{i}", DENSE, [f"d{i - 1}" if i else "x"]) for i in range(4)]
    layers.append(_layer("Activation", "identity", {"activation": "linear"}, ["d3"]))
    layers.append(_layer("Dense", "out", {"units": 2, "activation": "softmax"}, ["identity"]))
    text = import_config(_model(layers, "out")).text
    assert "defaults:\n  activation: relu\n" in text
    assert "- {type: dense, name: d1, units: 3}\n" in text
    assert "- {type: activation, name: identity, activation: linear}\n" in text  # else the default would apply
    assert "- {type: dense, name: out, units: 2, activation: softmax}\n" in text


def test_operator_nodes_become_merge_and_rescaling_layers():
    def op(class_name, name, args):
        return {
            "module": "keras.src.ops.numpy",
            "class_name": class_name,
            "config": {"name": name},
            "registered_name": class_name,
            "name": name,
            "inbound_nodes": [{"args": args, "kwargs": {}}],
        }

    layers = [
        _layer("Dense", "a", {"units": 4}, ["x"]),
        op("Add", "add", [_tensor("x"), _tensor("a")]),
        op("Multiply", "half", [_tensor("add"), 0.5]),
        op("Subtract", "flip", [1.0, _tensor("half")]),
        op("Divide", "tenth", [_tensor("flip"), 10.0]),
        op("Matmul", "mm", [_tensor("tenth"), _tensor("a")]),
    ]
    with pytest.raises(UnsupportedModel) as caught:
        import_config(_model(layers, "mm"))
    assert "mm (Matmul): operator node keras.ops.Matmul on 2 tensor(s)" in str(caught.value)
    text = import_config(_model(layers[:-1], "tenth")).text
    assert "- {type: add, name: add, inputs: [x, a]}\n" in text
    assert "- {type: rescaling, name: half, scale: 0.5}\n" in text
    assert "- {type: rescaling, name: flip, scale: -1.0, offset: 1.0}\n" in text
    assert "- {type: rescaling, name: tenth, scale: 0.1}\n" in text


def test_compile_settings_become_the_training_block():
    schedule = {
        "module": "keras.optimizers.schedules",
        "class_name": "ExponentialDecay",
        "config": {
            "initial_learning_rate": 0.10000000149011612,
            "decay_steps": 1000,
            "decay_rate": 0.96,
            "staircase": False,
            "name": "ExponentialDecay",
        },
    }
    optimizer = {
        "module": "keras.optimizers",
        "class_name": "SGD",
        "config": {
            "name": "SGD",
            "learning_rate": schedule,
            "weight_decay": None,
            "clipnorm": None,
            "global_clipnorm": None,
            "clipvalue": None,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
            "momentum": 0.8999999761581421,
            "nesterov": True,
        },
    }
    loss = {
        "module": "keras.losses",
        "class_name": "SparseCategoricalCrossentropy",
        "config": {
            "name": "sparse_categorical_crossentropy",
            "reduction": "sum_over_batch_size",
            "from_logits": True,
            "ignore_class": 0,
        },
    }
    compiled = {
        "optimizer": optimizer,
        "loss": loss,
        "loss_weights": None,
        "metrics": ["accuracy"],
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }
    config = _model([_layer("Dense", "d", DENSE, ["x"])], "d", compile_config=compiled)
    with pytest.raises(
        UnsupportedModel, match=r"sparse_categorical_crossentropy argument ignore_class=0 has no spec field"
    ):
        import_config(config)
    loss["config"]["ignore_class"] = None
    text = import_config(config).text
    assert (
        "training:\n"
        "  optimizer: {type: sgd, learning_rate: 0.1, momentum: 0.9, nesterov: true}\n"
        "  learning_rate_schedule: {type: exponential_decay, decay_steps: 1000, decay_rate: 0.96}\n"
        "  loss: {type: sparse_categorical_crossentropy, from_logits: true}\n"
        "  metrics: [accuracy]\n"
    ) in text
    compiled["metrics"] = ["acc", "mse"]  # Keras logs these under the names compile got: kept as written
    assert "  metrics: [acc, mse]\n" in import_config(config).text


def test_every_inexpressible_layer_is_listed_once_with_its_class_and_a_suggestion(tmp_path):
    config = _model(
        [
            _layer("Lambda", "fn", {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}}, ["x"]),
            _layer("MyLayer", "custom", {}, ["fn"], module="my_package.layers", registered_name="Custom>MyLayer"),
            _layer(
                "Dense",
                "odd",
                {**DENSE, "activation": {"module": "builtins", "class_name": "function", "config": "print"}},
                ["custom"],
            ),
            _layer("Dense", "ok", DENSE, ["odd"]),
        ],
        "ok",
    )
    path = tmp_path / "model.json"
    path.write_text(json.dumps(config))
    result = _run(str(path), "-o", str(tmp_path / "spec.yaml"))
    assert result.exit_code == 2
    message = result.output
    assert "cannot import: 3 layers or settings a spec cannot express (nothing was written)" in message
    assert "fn (Lambda): a Lambda layer runs Python code" in message
    assert "custom (MyLayer): custom class (module 'my_package.layers', registered as 'Custom>MyLayer')" in message
    assert "odd (Dense): custom activation 'print' from module 'builtins'" in message
    assert message.count("suggestion:") == 3
    assert "Traceback" not in message
    assert not (tmp_path / "spec.yaml").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"class_name": "MyModel", "module": "__main__"}, "not a Keras functional or Sequential model config"),
        ({"module": "os"}, "not a Keras functional or Sequential model config"),
    ],
)
def test_models_that_are_not_graphs_are_refused(change, message):
    config = {**_model([_layer("Dense", "d", DENSE, ["x"])], "d"), **change}
    with pytest.raises(UnsupportedModel, match=message):
        import_config(config)


def test_a_module_field_pointing_at_code_is_never_followed():
    evil = _layer("Dense", "d", DENSE, ["x"])
    evil["config"]["kernel_initializer"] = {
        "module": "os",
        "class_name": "system",
        "config": {"command": "touch /tmp/x"},
    }
    system = _layer("system", "s", {"command": "touch pwned"}, ["d"], module="os")
    with pytest.raises(UnsupportedModel) as caught:
        import_config(_model([evil, system], "s"))
    assert "custom initializer 'system' from module 'os'" in str(caught.value)
    assert "s (system): custom class (module 'os'" in str(caught.value)


def test_configs_nested_too_deeply_or_too_large_are_refused(monkeypatch):
    deep = _layer("Dense", "d", DENSE, ["x"])
    arg = deep["inbound_nodes"][0]["args"]
    for _ in range(990):  # within what json parses, beyond what a recursive walk may take
        arg = [arg]
    deep["inbound_nodes"][0]["args"] = arg
    with pytest.raises(UnsupportedModel, match="the config nests too deeply"):
        import_config(_model([deep], "d"))
    padding = 1
    for _ in range(990):
        padding = [padding]
    with pytest.raises(UnsupportedModel, match="the config nests too deeply"):
        import_config(_model([_layer("ZeroPadding2D", "pad", {"padding": padding}, ["x"])], "pad"))
    monkeypatch.setenv("MODELSPEC_MAX_LAYERS", "3")
    layers = [_layer("Dense", f"d{i}", DENSE, [f"d{i - 1}" if i else "x"]) for i in range(4)]
    with pytest.raises(UnsupportedModel, match=r"4 layers, more than a spec may hold \(3\); raise the limit"):
        import_config(_model(layers, "d3"))


def test_shared_layers_and_keras_2_configs_have_no_spec_form():
    shared = _layer("Dense", "d", {"units": 4}, ["x"])
    shared["inbound_nodes"].append(shared["inbound_nodes"][0])
    with pytest.raises(UnsupportedModel, match="the layer is called 2 times"):
        import_config(_model([shared], "d"))
    legacy = _layer("Dense", "d", {"units": 4}, ["x"])
    legacy["inbound_nodes"] = [[["x", 0, 0, {}]]]
    with pytest.raises(UnsupportedModel, match="a Keras 2 config"):
        import_config(_model([legacy], "d"))


def _archive(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


GOOD = json.dumps(_model([_layer("Dense", "d", DENSE, ["x"])], "d"))


@pytest.mark.parametrize(
    "members, message",
    [
        ({"../config.json": GOOD}, "names a path outside the archive"),
        ({"/etc/config.json": GOOD}, "names a path outside the archive"),
        ({"metadata.json": "{}"}, "the archive holds no config.json"),
        ({"config.json": "not json"}, "not a JSON model config"),
        ({"config.json": "[" * 100_000 + "]" * 100_000}, "the JSON nests too deeply"),
        ({"config.json": "[1, 2]"}, "the JSON holds a list, not an object"),
    ],
)
def test_hostile_archives_are_refused(tmp_path, members, message):
    path = _archive(tmp_path / "model.keras", members)
    result = _run(str(path), "-o", str(tmp_path / "spec.yaml"))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == [path]


def test_duplicate_members_and_zip_bombs_are_refused(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", GOOD)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("config.json", GOOD.replace('"units": 3', '"units": 300'))
    with pytest.raises(UnsupportedModel, match="several members named 'config.json'"):
        import_file(path)
    path = _archive(tmp_path / "bomb.keras", {"config.json": " " * 100_000})
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (2**32 - 1).to_bytes(4, "little")  # declared uncompressed size: 4 GiB
    path.write_bytes(bytes(data))
    with pytest.raises(UnsupportedModel, match="'config.json' declares 4,294,967,295 bytes"):
        import_file(path)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("model.h5", b"\x89HDF", "expected a .keras archive or a .json model config"),
        ("model.keras", b"not a zip", "not a zip archive"),
        ("missing.keras", None, "no such file"),
    ],
)
def test_unusable_sources(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = _run(str(path), "-o", "-")
    assert result.exit_code == 2
    assert message in result.output


def test_import_of_a_config_never_imports_tensorflow(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(GOOD)
    code = (
        "import sys\nfrom modelspec.importer import import_file\n"
        f"import_file({str(path)!r}, {str(tmp_path / 'spec.yaml')!r})\n"
        "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "spec.yaml").is_file()


def _paths(value, prefix=()):
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


ITERATIONS = 300


def test_mutated_configs_import_or_are_refused_never_crash():
    """Anything anywhere in a config (as a hostile file may put it) gives a spec or an UnsupportedModel."""
    import copy
    import random

    nested = _layer("Sequential", "inner", {"layers": [_layer("Dense", "i1", DENSE, [])]}, ["a"], module="keras")
    base = _model(
        [
            _layer(
                "Dense",
                "a",
                {
                    **DENSE,
                    "kernel_initializer": {
                        "module": "keras.initializers",
                        "class_name": "HeNormal",
                        "config": {"seed": 3},
                    },
                },
                ["x"],
            ),
            nested,
            _layer("Add", "add", {}, ["a", "inner"]),
            _layer("BatchNormalization", "bn", {"axis": 1, "epsilon": 1e-5}, ["add"]),
        ],
        "bn",
    )
    paths = list(_paths(base))
    values = [None, 0, -1, 1.5, "x", [], {}, [1, 2], {"class_name": "Lambda"}, True, [None], 10**30]
    rng = random.Random(0)
    imported = 0
    for _ in range(ITERATIONS):
        config = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            *parents, last = rng.choice(paths)
            target = config
            try:
                for key in parents:
                    target = target[key]
                target[last] = rng.choice(values)
            except (KeyError, IndexError, TypeError):
                pass
        try:
            import_config(config)
            imported += 1
        except UnsupportedModel:
            pass
    assert 0 < imported < ITERATIONS
