"""What `modelspec tune` costs beyond its trials, and what its lint pre-flight saves.

1. Overhead: `tune` of 4 trials of a digits MLP (the learning rate from loguniform(1e-3, 1e-1), random sampler,
   no pruning, 3 epochs each; Optuna in this process, in memory) against training the same 4 trial specs with the
   same seeds with `modelspec.train` one by one. Target: <= 1.05. Also printed: what `tune` spends outside its
   training runs (sampling, pre-flight, Optuna's bookkeeping, results) relative to the time inside them, which the
   scatter of training times on a busy machine does not blur.
2. Saving: a grid over kernel_initializer=choice(zeros, ones, auto, he_normal) with the hidden layer's ReLU: zeros
   and ones (half the trials, stated) are refused by MS101 before they train. `tune` against training all four
   trials, as a search without the pre-flight would; and the saving `tune` itself reports (refused trials x the
   median trial time).

Each side runs in the same process, alternating, after a warm-up; medians of wall and CPU time and their ratios
are printed.

    .venv/bin/python benchmarks/tune_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from modelspec import trainer
from modelspec.loader import load_spec
from modelspec.requests import Options, Search
from modelspec.trainer import train
from modelspec.tuning import trial as trial_module
from modelspec.tuning.study import tune
from modelspec.variants import variant_spec

DIGITS = {
    "modelspec": 1,
    "name": "digits_tune",
    "seed": 3,
    "input": {"shape": [64]},
    "layers": [
        {"type": "rescaling", "scale": 0.0625},
        {"type": "dense", "units": 128, "activation": "relu"},
        {"type": "dense", "name": "out", "units": 10, "activation": "softmax", "kernel_initializer": "glorot_uniform"},
    ],
    "training": {
        "optimizer": {"type": "adam", "learning_rate": 0.002},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "epochs": 3,
        "validation_split": 0.2,
    },
}
OVERHEAD = Search(("training.optimizer.learning_rate=loguniform(1e-3, 1e-1)",), trials=4, sampler="random",
                  prune="none")  # fmt: skip
SAVING = Search(("kernel_initializer=choice(zeros, ones, auto, he_normal)",), trials=4, sampler="grid", prune="none")


def _timed(action) -> tuple[float, float]:
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - started, time.process_time() - cpu


def _alternate(first, second, repeats: int):
    times: tuple[list, list] = ([], [])
    for index in range(repeats):
        for side in (0, 1) if index % 2 == 0 else (1, 0):
            times[side].append(_timed((first, second)[side]))
    return tuple(tuple(statistics.median(t[k] for t in side) for k in (0, 1)) for side in times)


def _report(what: str, ours, theirs, target: str) -> None:
    print(f"{what}: wall {ours[0]:.3f} s against {theirs[0]:.3f} s, CPU {ours[1]:.3f} s against {theirs[1]:.3f} s")
    print(f"  ratio: wall {ours[0] / theirs[0]:.3f}, CPU {ours[1] / theirs[1]:.3f} (target {target})")


def _trial_specs(result) -> list[tuple[dict, int]]:
    """Each trial's spec (as data) and seed, as `train` one by one gets them."""
    model = load_spec(DIGITS)
    searched = {search.field: search for search in result.plan.space}
    made = []
    for outcome in sorted(result.trials, key=lambda t: t.number):
        assignments = [(searched[name].vary, value) for name, value in outcome.params.items()]
        made.append((variant_spec(model, assignments).document.data, outcome.seed, outcome.state))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    first = tune(DIGITS, "digits", OVERHEAD)  # warm-up, and the trials (the sampler is seeded: the same each time)
    specs = _trial_specs(first)
    inside: list[float] = []
    outside: list[float] = []

    def timed_run(resolved):
        started = time.perf_counter()
        try:
            return trainer.run_train(resolved)
        finally:
            inside.append(time.perf_counter() - started)

    def tuned():
        inside.clear()
        started = time.perf_counter()
        trial_module.run_train = timed_run  # tune's trials call modelspec.trainer.run_train: time those calls
        try:
            tune(DIGITS, "digits", OVERHEAD)
        finally:
            trial_module.run_train = trainer.run_train
        outside.append((time.perf_counter() - started - sum(inside)) / sum(inside))

    def one_by_one():
        for data, seed, _ in specs:
            train(data, "digits", Options(seed=seed, lint=False))

    one_by_one()
    ours, theirs = _alternate(tuned, one_by_one, args.repeats)
    _report("tune of 4 trials x 3 epochs against train one by one", ours, theirs, "<= 1.05")
    print(f"  tune's own work outside its training runs: {100 * statistics.median(outside):.2f}% of the time inside")

    result = tune(DIGITS, "digits", SAVING)
    every = _trial_specs(result)
    refused = sum(1 for *_, state in every if state == "refused")

    def tuned_grid():
        tune(DIGITS, "digits", SAVING)

    def all_trained():
        for data, seed, _ in every:
            train(data, "digits", Options(seed=seed, lint=False))

    ours, theirs = _alternate(tuned_grid, all_trained, args.repeats)
    print(f"lint pre-flight: {refused} of {len(every)} trials refused (zeros and ones on the ReLU hidden layer)")
    _report("  tune with the pre-flight against training every trial", ours, theirs, "about 1 - the refused share")
    share = 100 * (1 - ours[0] / theirs[0])
    print(f"  saved: {theirs[0] - ours[0]:.2f} s of {theirs[0]:.2f} s measured ({share:.0f}%); tune's own estimate: "
          f"{result.seconds_saved:.2f} s (refused x median trial)")  # fmt: skip


if __name__ == "__main__":
    main()
