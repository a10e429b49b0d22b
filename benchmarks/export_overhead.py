"""Export overhead: `modelspec.export` against Keras's own `model.export` of the same model, in the same run.

For each spec and format, alternating the two sides (the order swapped each repeat), in one process:

- Keras: build the model from the spec (`modelspec.build_model`, the same seed), call it once on a batch (Keras
  exports only a model that has been called), and `model.export(path, format=...)` with the converter settings
  modelspec uses (the ONNX default opset; for LiteRT the builtin op set only, which modelspec requires).
- modelspec: `modelspec.export(spec, format, path)`: the lint gate with the format's readiness rules, the build,
  the same `model.export`, then the verification in the format's runtime; its time without the verification (the
  resolve, the build and the write) against Keras's, and the verification quoted separately.

Prints the median of each side, their ratio (target: <= 1.05), and the median verification time.

    .venv/bin/python benchmarks/export_overhead.py [--repeats 5] [--specs digits_cnn resnet] [--formats onnx ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 7
KERAS_FORMAT = {"saved_model": "tf_saved_model", "onnx": "onnx", "litert": "litert"}
SUFFIX = {"saved_model": ".saved_model", "onnx": ".onnx", "litert": ".tflite"}


def keras_side(spec: Path, export_format: str, path: Path) -> float:
    import numpy as np
    import tensorflow as tf

    import modelspec

    start = time.perf_counter()
    model = modelspec.build_model(spec, seed=SEED)
    shapes = [(4, *(d or 8 for d in tensor.shape[1:])) for tensor in model.inputs]
    batch = [np.random.default_rng(0).standard_normal(shape).astype("float32") for shape in shapes]
    model(batch if len(batch) > 1 else batch[0], training=False)
    options = {}
    if export_format == "litert":
        options = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    model.export(str(path), format=KERAS_FORMAT[export_format], verbose=False, **options)
    return time.perf_counter() - start


def modelspec_side(spec: Path, export_format: str, path: Path) -> tuple[float, float]:
    import modelspec

    start = time.perf_counter()
    exported = modelspec.export(spec, export_format, path, modelspec.Options(seed=SEED))
    total = time.perf_counter() - start
    return total - exported.verified.verify_seconds, exported.verified.verify_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--specs", nargs="+", default=["digits_cnn", "resnet"])
    parser.add_argument("--formats", nargs="+", default=list(SUFFIX), choices=list(SUFFIX))
    args = parser.parse_args()
    from modelspec.runtime.tensorflow_env import import_keras

    import_keras()
    print(f"{'spec':<12} {'format':<12} {'Keras s':>8} {'modelspec s':>12} {'ratio':>6} {'verify s':>9}")
    for name in args.specs:
        spec = ROOT / "specs" / f"{name}.yaml"
        for export_format in args.formats:
            folder = Path(tempfile.mkdtemp())
            keras_times, ours, verifying = [], [], []
            try:
                modelspec_side(spec, export_format, folder / f"warm{SUFFIX[export_format]}")  # traces once
                for repeat in range(args.repeats):
                    for side in ("keras", "modelspec") if repeat % 2 == 0 else ("modelspec", "keras"):
                        path = folder / f"{side}{repeat}{SUFFIX[export_format]}"
                        if side == "keras":
                            keras_times.append(keras_side(spec, export_format, path))
                        else:
                            seconds, verify = modelspec_side(spec, export_format, path)
                            ours.append(seconds)
                            verifying.append(verify)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            keras_median, our_median = statistics.median(keras_times), statistics.median(ours)
            print(
                f"{name:<12} {export_format:<12} {keras_median:>8.2f} {our_median:>12.2f} "
                f"{our_median / keras_median:>6.3f} {statistics.median(verifying):>9.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
