"""The measurements behind the levels of MS201, MS204 and MS106 (issue 17, Deliver 1), re-runnable:

    PYTHONPATH=$PWD python benchmarks/rulefixes/run.py [EXPERIMENT ...]

Each experiment is one `modelspec compare` over 3 seeds (the specs beside this file); results go to
benchmarks/rulefixes/results/EXPERIMENT.json, and the figures quoted in the rules' "Known problems" come from
them (final and best val_loss / val_accuracy, epochs to reach the target, means over the seeds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LARGE_HEAD = "{type: random_normal, stddev: 3.0},{type: random_normal, stddev: 10.0},auto"
OLD_KERAS = "{type: random_uniform, minval: -0.05, maxval: 0.05},{type: random_normal, stddev: 0.05},auto"

EXPERIMENTS = {
    # MS106 on an output layer: a small (DDPG's ±0.003) and a large (N(0, 1)) softmax head against `auto`.
    "output_init": (
        "output_init.yaml",
        "digits",
        [
            "--vary",
            "layers.head.kernel_initializer={type: random_uniform, minval: -0.003, maxval: 0.003},"
            "{type: random_normal, stddev: 1.0},auto",
            "--reach",
            "val_accuracy=0.9",
        ],
    ),
    # The same under plain SGD, whose step does scale with the gradient.
    "output_init_sgd": (
        "output_init.yaml",
        "digits",
        [
            "--set",
            "training.optimizer={type: sgd, learning_rate: 0.05}",
            "--vary",
            "layers.head.kernel_initializer={type: random_uniform, minval: -0.003, maxval: 0.003},"
            "{type: random_normal, stddev: 1.0},auto",
            "--reach",
            "val_accuracy=0.9",
        ],
    ),
    # Larger still: N(0, 3) and N(0, 10) on the softmax head (factors 1,150 and 12,800).
    "output_init_large": (
        "output_init.yaml",
        "digits",
        [
            "--vary",
            f"layers.head.kernel_initializer={LARGE_HEAD}",
            "--reach",
            "val_accuracy=0.9",
        ],
    ),
    # MS106 on a hidden layer that is too small: Keras 1's uniform ±0.05 (37× less than ReLU needs on the 64
    # pixels) and ±0.003 (10,000× less) on the digits MLP's relu layer, against `auto`.
    "hidden_init": (
        "output_init.yaml",
        "digits",
        [
            "--vary",
            "layers.hidden.kernel_initializer={type: random_uniform, minval: -0.05, maxval: 0.05},"
            "{type: random_uniform, minval: -0.003, maxval: 0.003},auto",
            "--reach",
            "val_accuracy=0.9",
        ],
    ),
    "hidden_init_sgd": (
        "output_init.yaml",
        "digits",
        [
            "--set",
            "training.optimizer={type: sgd, learning_rate: 0.05}",
            "--vary",
            "layers.hidden.kernel_initializer={type: random_uniform, minval: -0.05, maxval: 0.05},"
            "{type: random_uniform, minval: -0.003, maxval: 0.003},auto",
            "--reach",
            "val_accuracy=0.9",
        ],
    ),
    # MS204: a linear layer into the head, against relu on it (stacked_merged is the merged one-layer map).
    "stacked": (
        "stacked.yaml",
        "digits",
        ["--vary", "layers.proj.activation=linear,relu", "--reach", "val_accuracy=0.9"],
    ),
    "stacked_merged": (
        "stacked_merged.yaml",
        "digits",
        ["--vary", "training.optimizer.learning_rate=0.002", "--reach", "val_accuracy=0.9"],
    ),
    # MS106 on Keras 1's default initialisers (uniform ±0.05) and normal ±0.05 in small networks.
    "small_regression": (
        "small_regression.yaml",
        "small_regression.npz",
        ["--vary", f"kernel_initializer={OLD_KERAS}"],
    ),
    "small_classification": (
        "small_classification.yaml",
        "small_classification.npz",
        ["--vary", f"kernel_initializer={OLD_KERAS}", "--reach", "val_accuracy=0.9"],
    ),
}


def _data() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 8)).astype("float32")
    y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * x[:, 3] + 0.1 * rng.standard_normal(2000)
    np.savez(RESULTS / "small_regression.npz", x=x, y=y.astype("float32")[:, None])
    x = rng.standard_normal((2000, 4)).astype("float32")
    angle = np.arctan2(x[:, 1], x[:, 0]) + np.pi
    np.savez(RESULTS / "small_classification.npz", x=x, y=np.minimum((angle / (2 * np.pi / 3)).astype("int64"), 2))


def main(names: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    _data()
    for name in names or list(EXPERIMENTS):
        spec, data, options = EXPERIMENTS[name]
        data = data if data == "digits" else str(RESULTS / data)
        command = [sys.executable, "-m", "modelspec", "compare", str(HERE / spec), "--data", data, "--seeds", "3"]
        subprocess.run([*command, *options, "-o", str(RESULTS / f"{name}.json"), "--quiet"], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
