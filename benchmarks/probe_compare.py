"""Speed of `probe` and `compare` against what they add to.

1. `probe` of a 50-layer model (49 hidden dense ReLU layers of 256 units and a softmax output, batch 32) against
   building the same model with `build_model`: both include reading, validating and analysing the spec; the probe
   also lints, runs one training-mode batch forward and backward, and predicts every scale. Target: <= 2.
2. `compare` of two variants of a digits MLP (3 epochs each) against training the two variant specs one by one
   with `modelspec.train`. Target: <= 1.05. On a busy machine the training times themselves scatter by tens of
   percent, so the script also prints what `compare` spends outside its `train` calls (variants, lint, checks,
   results), relative to the time inside them: the overhead itself, which the scatter does not blur.

Each side is measured in the same process, alternating, after a warm-up; the medians of wall time and of the
process's CPU time (which other jobs on the machine disturb less) and their ratios are printed.

    .venv/bin/python benchmarks/probe_compare.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from modelspec import build_model, compare, comparison, probe, trainer
from modelspec.loader import load_spec
from modelspec.requests import Options
from modelspec.trainer import train
from modelspec.variants import variants

DEEP = {
    "modelspec": 1,
    "name": "deep50",
    "seed": 1,
    "input": {"shape": [256]},
    "layers": [{"type": "dense", "units": 256, "activation": "relu"} for _ in range(49)]
    + [{"type": "dense", "name": "out", "units": 10, "activation": "softmax"}],
    "training": {"optimizer": "sgd", "loss": "sparse_categorical_crossentropy", "batch_size": 32},
}
DIGITS = {
    "modelspec": 1,
    "name": "digits_variants",
    "seed": 3,
    "input": {"shape": [64]},
    "layers": [
        {"type": "rescaling", "scale": 0.0625},
        {"type": "dense", "units": 128, "activation": "relu"},
        {"type": "dense", "name": "out", "units": 10, "activation": "softmax", "kernel_initializer": "glorot_uniform"},
    ],
    "training": {
        "optimizer": {"type": "sgd", "learning_rate": 0.05, "momentum": 0.9},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "epochs": 3,
        "validation_split": 0.2,
    },
}
VARY = ["kernel_initializer=glorot_uniform,he_normal"]


def _timed(action) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: every thread, whatever else the machine runs)."""
    gc.collect()  # the last model's garbage is freed here, not inside the other side's timing
    started, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - started, time.process_time() - cpu


def _alternate(first, second, repeats: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) seconds of each side, run alternately."""
    times: tuple[list, list] = ([], [])
    for index in range(repeats):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for side in order:
            times[side].append(_timed((first, second)[side]))
    return tuple(tuple(statistics.median(t[k] for t in side) for k in (0, 1)) for side in times)


def _report(what: str, ours: tuple[float, float], theirs: tuple[float, float], target: str) -> None:
    print(f"{what}: wall {ours[0]:.3f} s against {theirs[0]:.3f} s, CPU {ours[1]:.3f} s against {theirs[1]:.3f} s")
    print(f"  ratio: wall {ours[0] / theirs[0]:.3f}, CPU {ours[1] / theirs[1]:.3f} (target {target})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    def probed():
        probe(DEEP)

    def built():
        build_model(DEEP, lint=False)

    probed(), built()  # warm-up: TensorFlow's start, the first traces
    probe_time, build_time = _alternate(probed, built, args.repeats)
    _report("probe of a 50-layer model against building it", probe_time, build_time, "<= 2")

    specs = [variant.model.document.data for variant in variants(load_spec(DIGITS), VARY)]
    inside: list[float] = []
    outside: list[float] = []

    def timed_run(resolved):
        started = time.perf_counter()
        try:
            return trainer.run_train(resolved)
        finally:
            inside.append(time.perf_counter() - started)

    def compared():
        inside.clear()
        started = time.perf_counter()
        # compare resolves every run first, then calls modelspec.trainer.run_train for each: time those calls
        comparison.run_train = timed_run
        try:
            compare(DIGITS, "digits", VARY)
        finally:
            comparison.run_train = trainer.run_train
        outside.append((time.perf_counter() - started - sum(inside)) / sum(inside))

    def one_by_one():
        for spec in specs:
            train(spec, "digits", Options(seed=3, lint=False))

    one_by_one()  # warm-up
    compare_time, train_time = _alternate(compared, one_by_one, args.repeats)
    _report("compare of 2 variants x 3 epochs against train one by one", compare_time, train_time, "<= 1.05")
    print(
        f"compare's own work outside its train calls: {100 * statistics.median(outside):.2f}% of the time inside them"
    )


if __name__ == "__main__":
    main()
