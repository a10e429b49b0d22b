"""Import round trip: `modelspec import` of keras.applications architectures, and building what it wrote.

For each architecture (weights=None, offline, ImageNet input sizes):

- import time: the JSON config alone (`modelspec import model.json`), and a .keras archive with its weights;
- in process: `build` of the imported spec (load, validate, analyse, lint, then Keras) against
  ``keras.models.model_from_json`` of the original config, alternating, median of --repeats (target <= 1.05);
- command line (--cli, default VGG16, 138M parameters): `modelspec build SPEC -o OUT.keras` against a plain
  Python script that imports Keras, builds the model from its config and saves it, each a fresh process,
  alternating (target <= 1.05). Each phase of the modelspec command is timed too, to show where time goes.

    .venv/bin/python benchmarks/import_roundtrip.py [--repeats 3] [--models ResNet50,VGG16] [--cli VGG16]
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHITECTURES = {
    "ResNet50": ("ResNet50", (224, 224, 3)),
    "MobileNetV2": ("MobileNetV2", (224, 224, 3)),
    "DenseNet121": ("DenseNet121", (224, 224, 3)),
    "VGG16": ("VGG16", (224, 224, 3)),
    "InceptionV3": ("InceptionV3", (299, 299, 3)),
}
PLAIN = """\
import sys, keras
model = keras.models.model_from_json(open(sys.argv[1]).read())
model.save(sys.argv[2])
"""
PHASES = """\
import sys, time
start = time.perf_counter()
from modelspec import pipeline
from modelspec.runtime.tensorflow_env import import_keras
marks = [("import modelspec", time.perf_counter())]
import_keras(); marks.append(("import TensorFlow", time.perf_counter()))
prepared = pipeline.prepare(sys.argv[1]); marks.append(("load, analyse, lint", time.perf_counter()))
model = pipeline.build(prepared); marks.append(("build (Keras)", time.perf_counter()))
pipeline.save(model, sys.argv[2], prepared.model); marks.append(("save (atomic, spec embedded)", time.perf_counter()))
previous = start
for name, mark in marks:
    print(f"{name}\\t{mark - previous:.2f}")
    previous = mark
"""


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (every thread, user and system)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def alternate(first, second, repeats: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) seconds of two functions run alternately after one warm-up run of each, so that load on
    the machine hits both alike.

    CPU time is the steadier measure on a shared machine: other processes lengthen the wall time of whichever
    side they happen to overlap, but not the CPU time it uses.
    """
    first(), second()  # warm up: the first build in a process pays one-time costs of Keras and TensorFlow
    times: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for function, found in zip((first, second), times):
            gc.collect()
            wall, cpu = time.perf_counter(), _cpu()
            function()
            found.append((time.perf_counter() - wall, _cpu() - cpu))
    return tuple(tuple(statistics.median(t[i] for t in found) for i in (0, 1)) for found in times)


HEADER = (
    f"{'model':<12} {'layers':>6} {'params':>12} {'import json':>12} {'import .keras':>14}   "
    f"build: {'from_config':>11} {'modelspec':>10} {'ratio':>6}   CPU: {'ratio':>6}"
)


def in_process(name: str, folder: Path, repeats: int) -> None:
    """Import one architecture (config alone, then with weights) and build it both ways; print one row."""
    import keras

    from modelspec import pipeline
    from modelspec.importer import import_file

    function, shape = ARCHITECTURES[name]
    model = getattr(keras.applications, function)(weights=None, input_shape=shape)
    config, archive, spec = folder / f"{name}.json", folder / f"{name}.keras", folder / f"{name}.yaml"
    config.write_text(model.to_json())
    model.save(archive)
    params, layers = model.count_params(), len(model.layers) - 1
    del model
    keras.backend.clear_session()
    import_json = median_time(lambda: import_file(config, spec), repeats)
    with_weights = median_time(lambda: import_file(archive, folder / f"{name}_w.yaml"), repeats)
    text = config.read_text()

    def keras_build():
        keras.models.model_from_json(text)
        keras.backend.clear_session()

    def modelspec_build():
        pipeline.build(pipeline.prepare(spec))
        keras.backend.clear_session()

    baseline, ours = alternate(keras_build, modelspec_build, repeats)
    print(
        f"{name:<12} {layers:>6} {params:>12,} {import_json:>11.2f}s {with_weights:>13.2f}s   "
        f"       {baseline[0]:>10.2f}s {ours[0]:>9.2f}s {ours[0] / baseline[0]:>6.3f}"
        f"        {ours[1] / baseline[1]:>6.3f}",
        flush=True,
    )


def command_line(name: str, folder: Path, repeats: int) -> None:
    config, spec = folder / f"{name}.json", folder / f"{name}.yaml"
    if not spec.exists():
        from modelspec.importer import import_file

        import_file(config, spec)
    plain = folder / "plain.py"
    plain.write_text(PLAIN)
    modelspec = Path(sys.executable).with_name("modelspec")

    def run_plain():
        subprocess.run([sys.executable, str(plain), str(config), str(folder / "plain.keras")], check=True)

    def run_cli():
        subprocess.run(
            [str(modelspec), "build", str(spec), "-o", str(folder / "cli.keras")], check=True, stdout=subprocess.DEVNULL
        )

    baseline, ours = alternate(run_plain, run_cli, repeats)
    print(
        f"\n{name}, each a fresh process: plain Keras script {baseline[0]:.2f}s ({baseline[1]:.2f}s CPU), "
        f"modelspec build {ours[0]:.2f}s ({ours[1]:.2f}s CPU): ratio {ours[0] / baseline[0]:.3f}, "
        f"CPU {ours[1] / baseline[1]:.3f} (target <= 1.05)"
    )
    phases = folder / "phases.py"
    phases.write_text(PHASES)
    out = subprocess.run(
        [sys.executable, str(phases), str(spec), str(folder / "phases.keras")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print("where modelspec build's time goes (one run):")
    for line in out.splitlines():
        phase, seconds = line.split("\t")
        print(f"  {phase:<30} {float(seconds):6.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default=",".join(ARCHITECTURES))
    parser.add_argument("--cli", default="VGG16", help="architecture for the command-line comparison ('' to skip)")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="modelspec-bench-") as tmp:
        folder = Path(tmp)
        print(HEADER)
        for name in sorted(set(names) | ({args.cli} if args.cli else set()), key=list(ARCHITECTURES).index):
            in_process(name, folder, args.repeats)
        if args.cli:
            command_line(args.cli, folder, args.repeats)


if __name__ == "__main__":
    main()
