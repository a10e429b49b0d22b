"""Training overhead: `modelspec.train` against a hand-written `model.fit`, and training from a memory-mapped folder.

1. Epoch time. The same MLP trained on the same in-memory data (an .npz for `modelspec.train`, its arrays for
   `model.fit`), with the same optimizer, loss, batch size and deterministic ops, alternating the two in one process
   (the order swapped each repeat). Each run trains several epochs; an epoch's time is Keras's on_epoch_begin to
   on_epoch_end (what modelspec's history records), the first epoch of each run is left out (it traces the graph).
   Prints the median epoch time of each side and their ratio. Target: <= 1.03.
2. Larger than memory. A folder with x.npy (float32, --rows x 256, 1 GB by default) and y.npy (int32 labels),
   generated under /tmp with a fixed seed, trained by `modelspec.train` memory-mapped, against the same arrays as an
   in-memory .npz; each run in a fresh subprocess, alternating the modes. Prints the throughput (rows per second,
   median epoch after the first) and the peak memory of each mode: the peak RSS (VmHWM) and the peak anonymous
   memory (RssAnon, sampled every 10 ms in a thread). Targets: memory-mapped peak RssAnon < half the data's size;
   throughput >= 0.9x in-memory.

   Why RssAnon: a memory map's data lives in the kernel's page cache, and RSS counts the mapped pages a process has
   touched, so after one epoch VmHWM includes (nearly) the whole file. Those pages are clean and file-backed: the
   kernel drops them under memory pressure and reads them again on demand, so they never need the memory to be
   free. Anonymous memory (heap, TensorFlow's buffers, a loaded array) is what a run really needs; it is the honest
   measure of "never loaded whole".

   The file stays in the page cache (this machine has far more memory than 1 GB), so this measures the cost of
   feeding from a memory map, not the speed of the disk.

After each part, the share of the cores that other processes kept busy meanwhile is printed: they share the
machine, and a busy machine shows as scattered epoch times; run again when it is quiet.

    .venv/bin/python benchmarks/train_overhead.py [--part 1|2] [--repeats 8] [--epochs 3] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from modelspec.requests import Options

SEED = 7
FEATURES = 256  # part 2: columns of x.npy
CLASSES = 10


def mlp_spec(features: int, hidden: list[int], batch_size: int, epochs: int) -> dict:
    layers = [{"type": "dense", "name": f"hidden{i}", "units": u, "activation": "relu"} for i, u in enumerate(hidden)]
    layers.append({"type": "dense", "name": "digit", "units": CLASSES, "activation": "softmax"})
    return {
        "modelspec": 1,
        "name": "mlp",
        "seed": SEED,
        "input": {"shape": [features]},
        "layers": layers,
        "training": {
            "optimizer": {"type": "adam", "learning_rate": 0.001},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            "batch_size": batch_size,
            "epochs": epochs,
        },
    }


def synthetic(rows: int, features: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Features from N(0, 1) and labels a fixed linear classifier gives them: learnable, reproducible."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features), dtype=np.float32)
    w = rng.standard_normal((features, CLASSES), dtype=np.float32)
    return x, (x @ w).argmax(axis=1).astype(np.int32)


class OtherLoad:
    """How busy other processes kept the machine: CPU time the kernel counted, less this process and its children."""

    def __enter__(self):
        self.started, self.busy, self.ours = time.perf_counter(), self.busy_seconds(), self.own_seconds()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.started
        others = (self.busy_seconds() - self.busy) - (self.own_seconds() - self.ours)
        cores = os.cpu_count() or 1
        print(f"(other processes kept {max(0.0, others) / (wall * cores):.0%} of the {cores} cores busy meanwhile)")

    @staticmethod
    def busy_seconds() -> float:
        with open("/proc/stat") as file:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, file.readline().split()[1:9])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def own_seconds() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# --- part 1: modelspec.train against model.fit ------------------------------------------------------------------


def epoch_timer(keras):
    class EpochTimer(keras.callbacks.Callback):
        """The same measure as modelspec's history: on_epoch_begin to on_epoch_end."""

        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    return EpochTimer()


def by_hand(spec: dict, x: np.ndarray, y: np.ndarray) -> list[float]:
    """What a user writes without modelspec: the model in Keras, compiled, then model.fit on the arrays.

    The initial weights differ (Keras's default initializers, not the spec's seeded ones); the work per step does not.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    training = spec["training"]
    inputs = keras.Input((x.shape[1],))
    h = inputs
    for layer in spec["layers"]:
        h = keras.layers.Dense(layer["units"], activation=layer["activation"], name=layer["name"])(h)
    model = keras.Model(inputs, h)
    model.compile(
        optimizer=keras.optimizers.Adam(training["optimizer"]["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    timer = epoch_timer(keras)
    model.fit(x, y, batch_size=training["batch_size"], epochs=training["epochs"], verbose=0, callbacks=[timer])
    return timer.seconds


def with_modelspec(spec: dict, data: Path) -> list[float]:
    import modelspec

    trained = modelspec.train(spec, data, Options(seed=SEED))
    return trained.history.series("seconds")


def part1(args) -> None:
    import keras

    spec = mlp_spec(args.features1, [args.hidden1, args.hidden1], args.batch1, args.epochs)
    x, y = synthetic(args.rows1, args.features1)
    print(
        f"part 1: MLP {args.features1}-{args.hidden1}-{args.hidden1}-{CLASSES} (adam, sparse CE, accuracy), "
        f"{args.rows1:,} rows in memory, batch {args.batch1}, {args.epochs} epochs x {args.repeats} repeats each"
    )
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="train_overhead_", dir="/tmp") as folder:
        data = Path(folder) / "data.npz"
        np.savez(data, x=x, y=y)
        for repeat in range(args.repeats):
            sides = [("modelspec", lambda: with_modelspec(spec, data)), ("keras", lambda: by_hand(spec, x, y))]
            for name, run in sides if repeat % 2 == 0 else sides[::-1]:
                keras.backend.clear_session()
                seconds = run()[1:]  # the first epoch traces the step function
                (ours if name == "modelspec" else theirs).extend(seconds)
                print(f"  repeat {repeat + 1} {name:>9}: " + " ".join(f"{s:.3f}" for s in seconds) + " s")
    mine, hand = statistics.median(ours), statistics.median(theirs)
    ratio = mine / hand
    print(
        f"epoch time over {len(ours)} epochs each, median: modelspec.train {mine:.3f} s | hand-written model.fit "
        f"{hand:.3f} s (fastest: {min(ours):.3f} s | {min(theirs):.3f} s, ratio {min(ours) / min(theirs):.3f})"
    )
    print(f"ratio of the medians: {ratio:.3f} (target <= 1.03): {verdict(ratio <= 1.03)}")


# --- part 2: memory-mapped against in-memory, each run in a fresh process ---------------------------------------


class MemorySampler:
    """The peaks of RssAnon and RssFile, read from /proc/self/status every ``interval`` seconds in a thread."""

    FIELDS = ("VmHWM", "VmRSS", "RssAnon", "RssFile")

    def __init__(self, interval: float = 0.01):
        self.interval, self.peaks = interval, dict.fromkeys(self.FIELDS, 0)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    @classmethod
    def read(cls) -> dict[str, int]:
        values = {}
        with open("/proc/self/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in cls.FIELDS:
                    values[key] = int(rest.split()[0]) * 1024
        return values

    def sample(self) -> None:
        for key, value in self.read().items():
            self.peaks[key] = max(self.peaks[key], value)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def __enter__(self):
        self.sample()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()
        self.sample()


def child(args) -> None:
    """One training run in this fresh process; prints one JSON line."""
    import modelspec
    from modelspec.runtime.tensorflow_env import import_keras

    import_keras()  # TensorFlow's own memory is part of the start, as in any training run
    start = MemorySampler.read()
    spec = mlp_spec(FEATURES, [args.hidden2], args.batch2, args.epochs2)
    with MemorySampler() as memory:
        began = time.perf_counter()
        trained = modelspec.train(spec, args.data, Options(seed=SEED))
        total = time.perf_counter() - began
    seconds = trained.history.series("seconds")
    result = {"start": start, "peaks": memory.peaks, "seconds": seconds, "total": total}
    print(json.dumps(result))


def spawn(mode: str, data: Path, args) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--data", str(data), "--epochs2", str(args.epochs2)]
    command += ["--hidden2", str(args.hidden2), "--batch2", str(args.batch2)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_data(folder: Path, rows: int) -> int:
    """x.npy and y.npy in ``folder/mapped``, and the same arrays in ``folder/data.npz``; returns the bytes."""
    mapped = folder / "mapped"
    mapped.mkdir()
    x = np.lib.format.open_memmap(mapped / "x.npy", mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    y = np.lib.format.open_memmap(mapped / "y.npy", mode="w+", dtype=np.int32, shape=(rows,))
    rng = np.random.default_rng(SEED)
    w = rng.standard_normal((FEATURES, CLASSES), dtype=np.float32)
    step = 65536
    for first in range(0, rows, step):
        block = rng.standard_normal((min(step, rows - first), FEATURES), dtype=np.float32)
        x[first : first + len(block)] = block
        y[first : first + len(block)] = (block @ w).argmax(axis=1)
    x.flush()
    y.flush()
    np.savez(folder / "data.npz", x=x, y=y)
    size = x.nbytes + y.nbytes
    del x, y
    return size


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def part2(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="train_overhead_", dir="/tmp"))
    try:
        size = write_data(folder, args.rows)
        print(
            f"part 2: x.npy {args.rows:,} x {FEATURES} float32 + y.npy int32 = {size / 1e9:.3f} GB ({mib(size)}); MLP "
            f"{FEATURES}-{args.hidden2}-{CLASSES}, batch {args.batch2}, {args.epochs2} epochs; "
            f"{args.repeats2} fresh processes per mode, alternating"
        )
        runs: dict[str, list[dict]] = {"memory": [], "mmap": []}
        sources = {"memory": folder / "data.npz", "mmap": folder / "mapped"}
        for repeat in range(args.repeats2):
            for mode in ("memory", "mmap") if repeat % 2 == 0 else ("mmap", "memory"):
                result = spawn(mode, sources[mode], args)
                runs[mode].append(result)
                first, *epochs = result["seconds"]
                print(
                    f"  run {repeat + 1} {mode:>6}: epoch 1 {first:.2f} s, then "
                    + " ".join(f"{s:.2f}" for s in epochs)
                    + f" s (whole train() {result['total']:.1f} s) | "
                    f"peak RssAnon {mib(result['peaks']['RssAnon'])} (start {mib(result['start']['RssAnon'])}), "
                    f"peak RssFile {mib(result['peaks']['RssFile'])}, VmHWM {mib(result['peaks']['VmHWM'])}"
                )
        summary = {}
        for mode, results in runs.items():
            epoch = statistics.median(s for r in results for s in r["seconds"][1:])
            summary[mode] = {
                "epoch": epoch,
                "rows_per_s": args.rows / epoch,
                "anon": statistics.median(r["peaks"]["RssAnon"] for r in results),
                "start": statistics.median(r["start"]["RssAnon"] for r in results),
                "hwm": statistics.median(r["peaks"]["VmHWM"] for r in results),
            }
        for mode, label in (("memory", "in-memory .npz"), ("mmap", "memory-mapped folder")):
            s = summary[mode]
            print(
                f"{label:>20}: {s['rows_per_s']:,.0f} rows/s (epoch {s['epoch']:.2f} s) | peak RssAnon "
                f"{mib(s['anon'])} ({mib(s['anon'] - s['start'])} above TensorFlow's start) | peak RSS (VmHWM) "
                f"{mib(s['hwm'])}"
            )
        throughput = summary["mmap"]["rows_per_s"] / summary["memory"]["rows_per_s"]
        anon = summary["mmap"]["anon"]
        print(f"throughput, memory-mapped / in-memory: {throughput:.3f} (target >= 0.90): {verdict(throughput >= 0.9)}")
        print(
            f"memory-mapped peak anonymous memory: {mib(anon)} = {anon / size:.2f} of the data (target < 0.50): "
            f"{verdict(anon < size / 2)}; peak RSS incl. mapped file pages: {mib(summary['mmap']['hwm'])} = "
            f"{summary['mmap']['hwm'] / size:.2f} of the data (page cache the kernel can drop; not the target)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("1", "2", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=8, help="part 1: runs of each side")
    parser.add_argument("--repeats2", type=int, default=3, help="part 2: fresh processes per mode")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is left out)")
    parser.add_argument("--epochs2", type=int, default=4, help="part 2: epochs per run (the first is left out)")
    parser.add_argument("--rows1", type=int, default=50_000)
    parser.add_argument("--features1", type=int, default=784)
    parser.add_argument("--hidden1", type=int, default=512)
    parser.add_argument("--batch1", type=int, default=128)
    parser.add_argument("--rows", type=int, default=1_000_000, help="part 2: rows of x.npy")
    parser.add_argument("--hidden2", type=int, default=256)
    parser.add_argument("--batch2", type=int, default=256)
    parser.add_argument("--child", choices=("memory", "mmap"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.part in ("1", "both"):
        with OtherLoad():
            part1(args)
    if args.part in ("2", "both"):
        with OtherLoad():
            part2(args)


if __name__ == "__main__":
    main()
