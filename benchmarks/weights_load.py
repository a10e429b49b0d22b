"""Loading pretrained weights: modelspec's loader against Keras's own ``load_weights`` on the same file.

Builds a ~100M-parameter MLP (a 2,000-wide input and five 4,650-wide dense layers, plus a batch norm), saves its
weights as a .weights.h5, then loads that file into the model alternately with ``modelspec.runtime.weights.load_into``
(which reads the file's metadata, plans, checks every shape, then assigns) and ``model.load_weights``, in one
process. Prints the median time of each, their ratio (target: <= 1.10), and the peak memory Python and NumPy
allocated during each load (tracemalloc; TensorFlow's own buffers are not counted) and the process's peak RSS.

    .venv/bin/python benchmarks/weights_load.py [--repeats 5] [--width 4500]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from modelspec import build_model, load_spec
from modelspec.pretrained.plan import plan_for
from modelspec.runtime.weights import load_into


def spec(width: int, depth: int) -> dict:
    layers = [{"type": "dense", "name": f"hidden{i}", "units": width, "activation": "relu"} for i in range(depth)]
    layers += [{"type": "batch_norm", "name": "norm"}, {"type": "dense", "name": "head", "units": 1000}]
    return {"modelspec": 1, "name": "big", "seed": 1, "input": {"shape": [2000]}, "layers": layers}


def measure(load) -> tuple[float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    load()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--width", type=int, default=4650)
    parser.add_argument("--depth", type=int, default=5)
    args = parser.parse_args()

    loaded = load_spec(spec(args.width, args.depth))
    model = build_model(loaded)
    print(f"model: {model.count_params():,} parameters ({model.count_params() * 4 / 2**20:,.0f} MiB float32)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.weights.h5"
        model.save_weights(path)
        reference = [np.asarray(v).copy() for v in model.weights[:2]]
        for variable in model.weights:  # make sure each load really writes every variable
            variable.assign(np.zeros(variable.shape, variable.dtype))
        times = {"modelspec": [], "keras": []}
        peaks = {"modelspec": [], "keras": []}
        loads = {
            "modelspec": lambda: load_into(model, plan_for(loaded, path)),
            "keras": lambda: model.load_weights(path),
        }
        for repeat in range(args.repeats + 1):  # the first round warms both up and is not counted
            order = ("modelspec", "keras") if repeat % 2 == 0 else ("keras", "modelspec")
            for name in order:
                elapsed, peak = measure(loads[name])
                if repeat:
                    times[name].append(elapsed)
                    peaks[name].append(peak)
        assert all(np.array_equal(a, np.asarray(v)) for a, v in zip(reference, model.weights[:2]))
    for name in times:
        print(
            f"{name:>9}: median {statistics.median(times[name]):.3f} s "
            f"(min {min(times[name]):.3f}, max {max(times[name]):.3f}); "
            f"peak traced memory {max(peaks[name]) / 2**20:,.0f} MiB"
        )
    ratio = statistics.median(times["modelspec"]) / statistics.median(times["keras"])
    print(f"ratio modelspec / keras: {ratio:.3f} (target <= 1.10)")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:,.0f} MiB")


if __name__ == "__main__":
    main()
