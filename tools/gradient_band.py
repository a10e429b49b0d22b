"""The gradient band of one spec, predicted (analysis/gradients.py) against measured in Keras: the figures behind
docs/signal.md's "The gradient band" and MS113/MS114's Known problems (the squeeze-excite kernels of
corpus/applications/efficientnetb0.yaml and mobilenetv3small.yaml).

Each kernel's gradient-to-weight ratio relative to the band's reference (the slowest of the last weighted
layers), predicted and measured: the gradient of the spec's cross-entropy on one batch (the spec's batch size) of
standard-normal inputs (mapped back through a leading `rescaling` or `normalization`, as the analysis assumes
standardised values after it) and uniform one-hot labels, in a training step, averaged over the seeds.

    PYTHONPATH=$PWD .venv/bin/python tools/gradient_band.py corpus/applications/mobilenetv3small.yaml squeeze
    PYTHONPATH=$PWD .venv/bin/python tools/gradient_band.py SPEC [REGEX] [--seeds 1,2]

REGEX picks the layers printed (all kernels by default). A few minutes on two cores for an EfficientNet at 96×96.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from modelspec import build_model, load_spec
from modelspec.analysis.gradients import band_reference, predict_gradients
from modelspec.runtime.tensorflow_env import import_keras


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("pattern", nargs="?", default="")
    parser.add_argument("--seeds", default="1,2")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    keras = import_keras()
    seeds = [int(s) for s in args.seeds.split(",")]
    text = re.sub(r"^seed: \d+\n", "", args.spec.read_text(encoding="utf-8"), flags=re.M)
    measured: dict[str, float] = {}
    for seed in seeds:
        spec = load_spec(f"seed: {seed}\n" + text)
        analysis = spec.analysis
        report = predict_gradients(analysis)
        model = build_model(spec, lint=False)
        rng = np.random.default_rng(seed)
        (shape,) = [i.shape for i in analysis.inputs.values()]
        x = rng.standard_normal((report.batch_size, *shape))
        first = next(iter(analysis.layers.values()))
        if first.type == "rescaling":
            x = (x - first.spec.offset) / first.spec.scale
        elif first.type == "normalization" and not first.spec.adapted:
            x = x * np.sqrt(np.array(first.spec.variance)) + np.array(first.spec.mean)
        classes = model.outputs[0].shape[-1]
        y = np.eye(classes, dtype="float32")[rng.integers(0, classes, report.batch_size)]
        with tf.GradientTape() as tape:
            loss = keras.losses.CategoricalCrossentropy()(y, model(x.astype("float32"), training=True))
        kernels = {name: analysis.layers[name].kernel_variables for name in analysis.weighted}
        variables = [
            v for v in model.trainable_weights if v.path.split("/")[-1] in kernels.get(v.path.split("/")[0], ())
        ]
        seen: set[str] = set()
        for variable, grad in zip(variables, tape.gradient(loss, variables)):
            layer = variable.path.split("/")[0]
            if layer not in seen:  # a layer's first kernel in Keras order, as the rules take it
                seen.add(layer)
                ratio = float(np.linalg.norm(grad) / np.linalg.norm(variable))
                measured[layer] = measured.get(layer, 0.0) + ratio / len(seeds)
    predicted = {
        name: next((w.ratio for w in layer.weights if w.variable in kernels[name] and w.ratio), None)
        for name, layer in report.layers.items()
        if name in analysis.weighted
    }
    heads = [(name, predicted[name]) for name in analysis.last_weighted if predicted.get(name)]
    head, reference = band_reference(heads, vanishing=True)
    print(f"reference '{head}': predicted ratio {reference:.3g}, measured {measured[head]:.3g}")
    print(f"{'layer':50s} {'predicted':>10s} {'measured':>10s}  (relative to the reference)")
    for name, ratio in predicted.items():
        if ratio and name in measured and re.search(args.pattern, name):
            print(f"{name:50s} {ratio / reference:10.3g} {measured[name] / measured[head]:10.3g}")


if __name__ == "__main__":
    main()
