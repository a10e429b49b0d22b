"""Calibrate the warning-level rules of issue 17 (MS115, MS116, MS205, MS206) against training.

Each study trains the faulty spec and the one its hint leads to with `modelspec compare` (same seeds, same data
order) on the bundled digits or on a small synthetic data set written to a temporary folder, and prints the
final validation accuracy of each (mean over the seeds) and the epoch at which it first reaches 90% of the
hinted variant's final accuracy. The figures are in docs/calibration-new-rules.md.

    PYTHONPATH=$PWD python benchmarks/calibrate_new_rules.py [--seeds 3] [--only MS115]

Needs TensorFlow (it trains); a few minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HEAD = "modelspec: 1\nname: {name}\nseed: 1\ninput: {{shape: {shape}}}\n"
TRAIN = (
    "training:\n  optimizer: {optimizer}\n  loss: {loss}\n  metrics: [accuracy]\n  batch_size: {batch}\n"
    "  epochs: {epochs}\n  validation_split: 0.2\n"
)


def _spec(name: str, layers: str, shape="[64]", optimizer="adam", loss="sparse_categorical_crossentropy", **kw):
    batch, epochs = kw.get("batch", 32), kw.get("epochs", 20)
    defaults = kw.get("defaults", "")
    return (
        HEAD.format(name=name, shape=shape)
        + defaults
        + "layers:\n"
        + layers
        + TRAIN.format(optimizer=optimizer, loss=loss, batch=batch, epochs=epochs)
    )


RESCALE = "  - {type: rescaling, scale: 0.0625}\n"
# Each study: (rule, description, the --data, the --vary field and values (faulty first, then the hint), spec)
STUDIES = {
    "MS115": [
        (
            "12 dense ReLU layers of 4 units vs leaky_relu (hint)",
            "digits",
            "defaults.activation=relu,leaky_relu",
            _spec(
                "dead_relu",
                RESCALE + "  - {type: dense, units: 4}\n" * 12 + "  - {type: dense, units: 10, activation: softmax}\n",
                defaults="defaults: {activation: relu}\n",
            ),
        ),
        (
            "8 dense ReLU layers of 2 units vs leaky_relu (hint)",
            "digits",
            "defaults.activation=relu,leaky_relu",
            _spec(
                "dead_relu_2",
                RESCALE + "  - {type: dense, units: 2}\n" * 8 + "  - {type: dense, units: 10, activation: softmax}\n",
                defaults="defaults: {activation: relu}\n",
            ),
        ),
        (
            "16 dense ReLU layers of 8 units (probability 6%: not flagged) vs leaky_relu",
            "digits",
            "defaults.activation=relu,leaky_relu",
            _spec(
                "narrow_relu_8",
                RESCALE + "  - {type: dense, units: 8}\n" * 16 + "  - {type: dense, units: 10, activation: softmax}\n",
                defaults="defaults: {activation: relu}\n",
            ),
        ),
    ],
    "MS116": [
        (
            "40 Glorot/ReLU layers of 64 units, SGD 0.01: Glorot vs auto (He, hint)",
            "digits",
            "defaults.kernel_initializer=glorot_uniform,auto",
            _spec(
                "stalled_deep",
                RESCALE
                + "  - {type: dense, units: 64, activation: relu}\n" * 40
                + "  - {type: dense, units: 10, activation: softmax}\n",
                optimizer="{type: sgd, learning_rate: 0.01}",
                epochs=10,
            ),
        ),
        (
            "the same 40 Glorot/ReLU layers: SGD 0.01 vs Adam 0.001 (not flagged: Adam's step is ~lr per weight)",
            "digits",
            "training.optimizer={type: sgd, learning_rate: 0.01},{type: adam, learning_rate: 0.001}",
            _spec(
                "stalled_deep_adam",
                RESCALE
                + "  - {type: dense, units: 64, activation: relu}\n" * 40
                + "  - {type: dense, units: 10, activation: softmax}\n",
                optimizer="{type: sgd, learning_rate: 0.01}",
                defaults="defaults: {kernel_initializer: glorot_uniform}\n",
                epochs=10,
            ),
        ),
        (
            "2 tanh layers, batch 256: SGD 1e-4 vs Adam 1e-3 (hint)",
            "digits",
            "training.optimizer={type: sgd, learning_rate: 0.0001},{type: adam, learning_rate: 0.001}",
            _spec(
                "stalled_lr",
                RESCALE
                + "  - {type: dense, units: 64, activation: tanh}\n" * 2
                + "  - {type: dense, units: 10, activation: softmax}\n",
                optimizer="{type: sgd, learning_rate: 0.0001}",
                batch=256,
            ),
        ),
    ],
    "MS205": [
        (
            "conv then a dense head without flatten (categorical_crossentropy) vs flatten (hint)",
            "digits_one_hot.npz",
            None,
            [
                _spec(
                    "non_flat" + name,
                    "  - {type: rescaling, scale: 0.0625}\n"
                    "  - {type: conv2d, filters: 16, kernel_size: 3, activation: relu}\n"
                    + between
                    + "  - {type: dense, units: 10, activation: softmax}\n",
                    shape="[8, 8, 1]",
                    loss="categorical_crossentropy",
                )
                for name, between in (("", ""), ("_flatten", "  - {type: flatten}\n"))
            ],
        ),
    ],
    "MS206": [
        (
            "sigmoid output, mean_absolute_error vs binary_crossentropy (hint)",
            "binary.npz",
            "training.loss=mean_absolute_error,binary_crossentropy",
            _spec(
                "squashed",
                "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\n",
                shape="[16]",
                loss="mean_absolute_error",
                epochs=20,
            ),
        ),
        (
            "sigmoid output, mean_squared_error vs binary_crossentropy (hint)",
            "binary.npz",
            "training.loss=mean_squared_error,binary_crossentropy",
            _spec(
                "squashed_mse",
                "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\n",
                shape="[16]",
                loss="mean_squared_error",
                epochs=20,
            ),
        ),
    ],
}


def _binary_data(path: Path) -> None:
    """A binary task that is not linearly separable: y = [x₀x₁ + 0.5·x₂ > 0] on 2,000 standard-normal points."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 16)).astype("float32")
    y = ((x[:, 0] * x[:, 1] + 0.5 * x[:, 2]) > 0).astype("float32")[:, None]
    np.savez(path, x=x, y=y)


def _digits_one_hot(path: Path) -> None:
    """The bundled digits as (8, 8, 1) images with one-hot labels, for the categorical cross-entropy studies."""
    import numpy as np

    from modelspec import load_spec
    from modelspec.data import load_data

    spec = _spec("reader", "  - {type: flatten}\n  - {type: dense, units: 10, activation: softmax}\n", "[8, 8, 1]")
    dataset = load_data("digits", load_spec(spec))
    (x,), (y,) = dataset.inputs.values(), dataset.targets.values()
    np.savez(path, x=x, y=np.eye(10, dtype="float32")[y])


def _first_reach(curve: list, target: float):
    return next((epoch + 1 for epoch, value in enumerate(curve) if value is not None and value >= target), None)


def _compare(spec: Path, data: str, vary: str, seeds: int) -> dict:
    """The results of one `modelspec compare`; for a spec it refuses to train (exit 2), {"refused": its message}."""
    out = spec.with_suffix(".json")
    command = [sys.executable, "-m", "modelspec", "compare", str(spec), "--data", data, "--vary", vary]
    command += ["--seeds", str(seeds), "-o", str(out), "--quiet"]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode == 2:
        return {"refused": done.stderr.strip().splitlines()[-1]}
    done.check_returncode()
    return json.loads(out.read_text())


def run(rule: str, seeds: int, folder: Path) -> Iterator[dict]:
    """Run each study of ``rule``: one `compare` over the --vary values, or, where the variants differ by a
    layer (vary None), one `compare` per spec (varying nothing that matters) whose variants are put together."""
    for index, (what, data, vary, text) in enumerate(STUDIES[rule]):
        if data.endswith(".npz"):
            data_path = folder / data
            if not data_path.exists():
                (_digits_one_hot if data.startswith("digits") else _binary_data)(data_path)
            data = str(data_path)
        texts = [text] if vary is not None else text
        variants = []
        for number, body in enumerate(texts):
            spec = folder / f"{rule}_{index}_{number}.yaml"
            spec.write_text(body, encoding="utf-8")
            results = _compare(spec, data, vary or "training.shuffle=true", seeds)
            if "refused" in results:
                results = {"variants": [{"refused": results["refused"], "runs": [], "findings": []}]}
            for variant in results["variants"]:
                if vary is None:
                    variant["label"] = body.split("name: ", 1)[1].split("\n", 1)[0]
                variants.append(variant)
        yield {"rule": rule, "what": what, "vary": vary, "results": {"variants": variants}}


def _mean_curve(variant: dict, quantity: str) -> list:
    """The per-epoch mean of ``quantity`` over the variant's runs (seeds)."""
    curves = [[epoch.get(quantity) for epoch in run["epochs"]] for run in variant["runs"]]
    return [sum(values) / len(values) if None not in values else None for values in zip(*curves)]


def summarise(row: dict) -> str:
    """The final validation accuracy of each variant (mean over seeds), and the first epoch at which its mean
    curve reaches 90% of the hinted (last) variant's final accuracy."""
    variants = row["results"]["variants"]
    lines = [f"{row['rule']}: {row['what']} ({len(variants[-1]['runs'])} seeds)"]
    for variant in [v for v in variants if "refused" in v]:
        lines.append(f"  {variant['label']:<58} refused by compare (exit 2): {variant['refused']}")
    variants = [v for v in variants if "refused" not in v]
    curves = [_mean_curve(v, "val_accuracy") for v in variants]
    finals = [curve[-1] for curve in curves]
    target = 0.9 * finals[-1]
    for variant, final, curve in zip(variants, finals, curves):
        codes = sorted({f["code"] for f in variant["findings"] if f["level"] != "info"})
        reach = _first_reach(curve, target)
        lines.append(
            f"  {variant['label']:<58} val_accuracy {final:.3f}  reaches {target:.3f} at epoch "
            f"{reach if reach is not None else 'never'} of {len(curve)}  lint: {', '.join(codes) or '-'}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", action="append", choices=list(STUDIES))
    parser.add_argument("--json", type=Path, help="also write every result here")
    parser.add_argument("--folder", type=Path, help="keep the specs, data and compare results here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for rule in args.only or list(STUDIES):
            for row in run(rule, args.seeds, folder):
                print(summarise(row), flush=True)
                rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
