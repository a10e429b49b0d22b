"""Distribution overhead: `mirrored` on one device against no strategy, and two local workers against one.

1. Strategy overhead. The same MLP on the same in-memory data, trained by `modelspec.train` with no strategy and with
   `mirrored` over the one device /cpu:0 (one replica: the strategy's machinery with nothing to distribute),
   alternating the two in one process (the order swapped each repeat). The first epoch of each run is left out (it
   traces the graph). Prints the median epoch time of each and their ratio. Target: <= 1.05.
2. Workers. `modelspec train` as real processes: no strategy, a one-worker `multi_worker_mirrored` cluster, and a
   two-worker cluster on 127.0.0.1 (TF_CONFIG, free ports), each run in fresh processes, alternating. Prints the
   throughput (training rows per second, median epoch after the first, from the chief's history) of each, and the
   ratio of two workers to one. On this machine the two workers share its cores, and each step all-reduces the
   gradients over gRPC on the loopback interface: the ratio shows what that costs, not what a cluster gains. A last
   run of two workers with a 784-8-10 MLP (next to no arithmetic) measures that cost per step on its own.

After each part, the share of the cores that other processes kept busy meanwhile is printed: they share the
machine, and a busy machine shows as scattered epoch times; run again when it is quiet.

    .venv/bin/python benchmarks/distribute_overhead.py [--part 1|2] [--repeats 4] [--epochs 4] [--rows 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from train_overhead import SEED, OtherLoad, mlp_spec, synthetic, verdict

from modelspec.requests import Options


def _spec(args, distribute) -> dict:
    spec = mlp_spec(args.features, [args.hidden, args.hidden], args.batch, args.epochs)
    if distribute is not None:
        spec["training"]["distribute"] = distribute
    return spec


# --- part 1: mirrored on one device against no strategy ------------------------------------------------------------


def part1(args, data: Path) -> None:
    import modelspec
    from modelspec.runtime.tensorflow_env import import_keras

    keras = import_keras()  # without TensorFlow's start-up text

    spec = _spec(args, {"strategy": "mirrored", "devices": ["/cpu:0"]})
    print(
        f"part 1: MLP {args.features}-{args.hidden}-{args.hidden}-10 (adam, sparse CE, accuracy), {args.rows:,} rows "
        f"in memory, batch {args.batch}, {args.epochs} epochs x {args.repeats} repeats each"
    )
    times: dict[str, list[float]] = {"none": [], "mirrored": []}
    for repeat in range(args.repeats):
        for name in ("none", "mirrored") if repeat % 2 == 0 else ("mirrored", "none"):
            keras.backend.clear_session()
            trained = modelspec.train(spec, data, Options(seed=SEED, distribute=name))
            seconds = trained.history.series("seconds")[1:]  # the first epoch traces the step function
            times[name].extend(seconds)
            print(f"  repeat {repeat + 1} {name:>8}: " + " ".join(f"{s:.3f}" for s in seconds) + " s")
    plain, mirrored = statistics.median(times["none"]), statistics.median(times["mirrored"])
    ratio = mirrored / plain
    print(f"epoch time, median over {len(times['none'])} epochs each: no strategy {plain:.3f} s | mirrored on /cpu:0 "
          f"{mirrored:.3f} s (fastest: {min(times['none']):.3f} s | {min(times['mirrored']):.3f} s)")  # fmt: skip
    fastest = min(times["mirrored"]) / min(times["none"])
    print(f"ratio of the medians: {ratio:.3f} (target <= 1.05): {verdict(ratio <= 1.05)}; of the fastest: "
          f"{fastest:.3f}")  # fmt: skip
    keras_ratio = _keras_alone(args, keras, data)
    print(f"the same in plain Keras (model.fit on a tf.data pipeline, with and without MirroredStrategy on /cpu:0): "
          f"{keras_ratio:.3f}; modelspec's mirrored against Keras's: {ratio / keras_ratio:.3f}")  # fmt: skip


def _keras_alone(args, keras, data: Path) -> float:
    """The ratio of the median epoch times of `model.fit` under MirroredStrategy(['/cpu:0']) and without: the cost
    of TensorFlow's and Keras's own machinery, which modelspec's ratio includes."""
    import tensorflow as tf

    arrays = np.load(data)
    times: dict[str, list[float]] = {"none": [], "mirrored": []}

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    def model():
        keras.utils.set_random_seed(SEED)
        layers = [keras.layers.Dense(args.hidden, activation="relu") for _ in range(2)]
        built = keras.Sequential([keras.Input((args.features,)), *layers, keras.layers.Dense(10, activation="softmax")])
        built.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return built

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    for repeat in range(args.repeats):
        for name in ("none", "mirrored") if repeat % 2 == 0 else ("mirrored", "none"):
            keras.backend.clear_session()
            dataset = tf.data.Dataset.from_tensor_slices((arrays["x"], arrays["y"])).batch(args.batch).prefetch(2)
            with strategy.scope() if name == "mirrored" else contextlib.nullcontext():
                built = model()
            timer = Timer()
            timer.seconds = []
            built.fit(dataset, epochs=args.epochs, verbose=0, callbacks=[timer])
            times[name].extend(timer.seconds[1:])
    return statistics.median(times["mirrored"]) / statistics.median(times["none"])


# --- part 2: one process, one worker, two workers --------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _train(folder: Path, data: Path, workers: int, spec: str = "spec.yaml") -> list[float]:
    """Run `modelspec train` as ``workers`` processes (0: no strategy); return the chief's epoch times."""
    hosts = [f"127.0.0.1:{port}" for port in _free_ports(max(workers, 1))]
    processes = []
    for index in range(max(workers, 1)):
        environment = dict(os.environ)
        if workers:
            config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
            environment["TF_CONFIG"] = json.dumps(config)
        command = [sys.executable, "-m", "modelspec", "train", str(folder / spec), "--data", str(data),
                   "--quiet", "--seed", str(SEED), "-o", str(folder / f"out{index}.keras"),
                   "--distribute", "multi_worker_mirrored" if workers else "none"]  # fmt: skip
        processes.append(subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    try:
        for process in processes:
            _, err = process.communicate(timeout=1800)
            if process.returncode != 0:
                raise SystemExit(f"modelspec train failed ({process.returncode}):\n{err.decode()}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    history = json.loads((folder / "out0.history.json").read_text())
    return [row["seconds"] for row in history["epochs"]][1:]


def part2(args, data: Path, folder: Path) -> None:
    (folder / "spec.yaml").write_text(yaml.safe_dump(_spec(args, None), sort_keys=False))
    tiny = mlp_spec(args.features, [8], args.batch, args.epochs)  # next to no arithmetic: what is left is talk
    (folder / "tiny.yaml").write_text(yaml.safe_dump(tiny, sort_keys=False))
    print(f"part 2: the same MLP and data, `modelspec train` processes, {args.epochs} epochs x {args.repeats2} runs")
    kinds = {"no strategy": (0, "spec.yaml"), "1 worker": (1, "spec.yaml"), "2 workers": (2, "spec.yaml"),
             "2 workers, 784-8-10 MLP": (2, "tiny.yaml")}  # fmt: skip
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for repeat in range(args.repeats2):
        for kind in list(kinds) if repeat % 2 == 0 else list(kinds)[::-1]:
            seconds = _train(folder, data, *kinds[kind])
            times[kind].extend(seconds)
            print(f"  run {repeat + 1} {kind:>23}: " + " ".join(f"{s:.3f}" for s in seconds) + " s")
    steps = -(-args.rows // args.batch)
    rates = {kind: args.rows / statistics.median(seconds) for kind, seconds in times.items()}
    for kind, rate in rates.items():
        step = statistics.median(times[kind]) / steps * 1000
        print(f"  {kind:>23}: {rate:>9,.0f} rows/s  ({step:.2f} ms per step of {args.batch} rows)")
    print(f"two workers against one: {rates['2 workers'] / rates['1 worker']:.2f}x the throughput; one worker against "
          f"no strategy: {rates['1 worker'] / rates['no strategy']:.2f}x")  # fmt: skip
    floor = statistics.median(times["2 workers, 784-8-10 MLP"]) / steps * 1000
    print(
        f"a step of two workers costs at least {floor:.1f} ms however small the model: the gradients' all-reduce "
        f"between two processes over gRPC on the loopback interface, on cores the two processes share"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("1", "2", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=4, help="part 1: runs of each side")
    parser.add_argument("--repeats2", type=int, default=2, help="part 2: runs of each kind")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (the first is left out)")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="distribute_overhead_", dir="/tmp") as temporary:
        folder = Path(temporary)
        x, y = synthetic(args.rows, args.features)
        np.savez(folder / "data.npz", x=x, y=y)
        if args.part in ("1", "both"):
            with OtherLoad():
                part1(args, folder / "data.npz")
        if args.part in ("2", "both"):
            with OtherLoad():
                part2(args, folder / "data.npz", folder)


if __name__ == "__main__":
    main()
