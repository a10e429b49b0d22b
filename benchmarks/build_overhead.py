"""Build overhead: modelspec's build_model against the same model written by hand in Keras.

Builds a ResNet-50-sized CNN (bottleneck blocks 3-4-6-3, ~25.6M parameters) and a wide MLP both ways,
alternating, in one process, and prints the median time of each and their ratio (target: <= 1.10).
modelspec's time includes reading the YAML, validating and analysing it.

    .venv/bin/python benchmarks/build_overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import yaml

from modelspec import build_model
from modelspec.analysis.seeds import derive_seed

SEED = 1


def resnet50_spec() -> dict:
    layers = [
        {"type": "zero_padding2d", "name": "pad", "padding": 3},
        {"type": "conv2d", "name": "conv1", "filters": 64, "kernel_size": 7, "strides": 2, "use_bias": False},
        {"type": "batch_norm", "name": "bn1"},
        {"type": "activation", "name": "relu1", "activation": "relu"},
        {"type": "max_pool2d", "name": "pool1", "pool_size": 3, "strides": 2, "padding": "same"},
    ]
    previous = "pool1"
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=2):
        for block in range(blocks):
            p = f"s{stage}b{block}"
            stride = 2 if block == 0 and stage > 2 else 1
            layers += [
                {
                    "type": "conv2d",
                    "name": f"{p}_c1",
                    "filters": width,
                    "kernel_size": 1,
                    "strides": stride,
                    "use_bias": False,
                    "inputs": [previous],
                },
                {"type": "batch_norm", "name": f"{p}_bn1"},
                {"type": "activation", "name": f"{p}_r1", "activation": "relu"},
                {
                    "type": "conv2d",
                    "name": f"{p}_c2",
                    "filters": width,
                    "kernel_size": 3,
                    "padding": "same",
                    "use_bias": False,
                },
                {"type": "batch_norm", "name": f"{p}_bn2"},
                {"type": "activation", "name": f"{p}_r2", "activation": "relu"},
                {"type": "conv2d", "name": f"{p}_c3", "filters": width * 4, "kernel_size": 1, "use_bias": False},
                {"type": "batch_norm", "name": f"{p}_bn3"},
            ]
            shortcut = previous
            if block == 0:
                layers += [
                    {
                        "type": "conv2d",
                        "name": f"{p}_proj",
                        "filters": width * 4,
                        "kernel_size": 1,
                        "strides": stride,
                        "use_bias": False,
                        "inputs": [previous],
                    },
                    {"type": "batch_norm", "name": f"{p}_projbn"},
                ]
                shortcut = f"{p}_projbn"
            layers += [
                {"type": "add", "name": f"{p}_add", "inputs": [shortcut, f"{p}_bn3"]},
                {"type": "activation", "name": f"{p}_out", "activation": "relu"},
            ]
            previous = f"{p}_out"
    layers += [
        {"type": "global_average_pool2d", "name": "gap"},
        {"type": "dense", "name": "fc", "units": 1000, "activation": "softmax"},
    ]
    return {"modelspec": 1, "name": "resnet50", "seed": SEED, "input": {"shape": [224, 224, 3]}, "layers": layers}


def wide_mlp_spec() -> dict:
    layers = [{"type": "dense", "name": f"h{i}", "units": 4096, "activation": "relu"} for i in range(4)]
    layers.append({"type": "dense", "name": "out", "units": 10, "activation": "softmax"})
    return {"modelspec": 1, "name": "wide_mlp", "seed": SEED, "input": {"shape": [1024]}, "layers": layers}


def by_hand(spec: dict):
    """The same model written directly against Keras, with the same seeded initializers."""
    import keras
    from keras import layers as L

    def he(name):
        return keras.initializers.HeNormal(seed=derive_seed(SEED, name, "kernel_initializer"))

    def glorot(name):
        return keras.initializers.GlorotUniform(seed=derive_seed(SEED, name, "kernel_initializer"))

    def conv(layer):
        return L.Conv2D(
            layer["filters"],
            layer["kernel_size"],
            strides=layer.get("strides", 1),
            padding=layer.get("padding", "valid"),
            use_bias=False,
            kernel_initializer=he(layer["name"]),
            name=layer["name"],
        )

    def dense(layer):
        init = he(layer["name"]) if layer["activation"] == "relu" else glorot(layer["name"])
        return L.Dense(layer["units"], activation=layer["activation"], kernel_initializer=init, name=layer["name"])

    make = {
        "zero_padding2d": lambda layer: L.ZeroPadding2D(layer["padding"], name=layer["name"]),
        "conv2d": conv,
        "batch_norm": lambda layer: L.BatchNormalization(name=layer["name"]),
        "activation": lambda layer: L.Activation(layer["activation"], name=layer["name"]),
        "max_pool2d": lambda layer: L.MaxPooling2D(3, strides=2, padding="same", name=layer["name"]),
        "global_average_pool2d": lambda layer: L.GlobalAveragePooling2D(name=layer["name"]),
        "dense": dense,
    }
    inputs = keras.Input(tuple(spec["input"]["shape"]), name="input")
    tensors, x = {}, inputs
    for layer in spec["layers"]:
        if layer["type"] == "add":
            x = L.Add(name=layer["name"])([tensors[n] for n in layer["inputs"]])
        else:
            if "inputs" in layer:
                x = tensors[layer["inputs"][0]]
            x = make[layer["type"]](layer)(x)
        tensors[layer["name"]] = x
    return keras.Model(inputs, x, name=spec["name"])


def timed(fn) -> float:
    import keras

    keras.backend.clear_session()
    start = time.perf_counter()
    model = fn()
    elapsed = time.perf_counter() - start
    del model
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import keras  # noqa: F401  (imported once, outside the timings)

    for spec in (resnet50_spec(), wide_mlp_spec()):
        text = yaml.safe_dump(spec, sort_keys=False)
        ours, theirs = [], []
        ours_once, theirs_once = functools.partial(build_model, text), functools.partial(by_hand, spec)
        timed(ours_once)  # warm-up both paths
        timed(theirs_once)
        for _ in range(args.repeats):
            ours.append(timed(ours_once))
            theirs.append(timed(theirs_once))
        keras_model, spec_model = by_hand(spec), build_model(text)
        assert keras_model.count_params() == spec_model.count_params()
        mine, hand = statistics.median(ours), statistics.median(theirs)
        print(
            f"{spec['name']:>9}: {spec_model.count_params():>11,} params | modelspec {mine:6.3f} s | "
            f"hand-written Keras {hand:6.3f} s | ratio {mine / hand:.3f} (target <= 1.10)"
        )


if __name__ == "__main__":
    main()
