"""Write a built Keras model in an export format and verify it in that format's own runtime.

Every format goes through Keras's own ``model.export`` (docs/export.md, "Known converter traps"): SavedModel
(`tf_saved_model`), ONNX (Keras hands a concrete function to tf2onnx, after its NumPy-2 patch of tf2onnx; the dtype
policy is float32, as modelspec builds), and LiteRT (Keras writes a SavedModel and converts it with
``TFLiteConverter.from_saved_model``, the route that works with Keras 3, where ``from_keras_model`` breaks), with the
builtin op set only: the select-TF-ops fallback Keras allows needs the Flex delegate, which the ai-edge-litert
interpreter (and a plain LiteRT app) lacks, so a file that needed it would not run.

The export is written beside its target (a temporary file, or folder for a SavedModel), loaded by its runtime
(TensorFlow, onnxruntime, the LiteRT interpreter), run on the seeded batch, compared with Keras's outputs, and only
then renamed over the target: an export that fails or disagrees leaves nothing behind.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelspec.atomic import replacing
from modelspec.errors import ExportError, ExportMismatch
from modelspec.export_formats import EXTRA, VERIFY_BATCH, Format
from modelspec.runtime.probe import random_batch
from modelspec.runtime.tensorflow_env import import_keras


@dataclass(frozen=True)
class Verified:
    """What the verification found: the largest difference from Keras per output, and the time each step took."""

    differences: dict[str, float]  # output name -> max |export - keras|
    scale: float  # max(1, max |keras output|): the tolerance is relative to it
    batch: int
    export_seconds: float
    verify_seconds: float

    @property
    def difference(self) -> float:
        return max(self.differences.values())


def allowed(tolerance: float, scale: float) -> str:
    """The tolerance as printed: `tolerance 1e-05`, or `tolerance 0.02 × 4.8, the largest Keras output`."""
    return f"tolerance {tolerance:g}" + (f" × {scale:.3g}, the largest Keras output" if scale > 1 else "")


def require(chosen: Format) -> None:
    """Import what the format needs beyond TensorFlow (before TensorFlow starts, where it can); a missing module is
    an ``ExportError`` naming the extra."""
    for name in chosen.modules:
        if name == "tf2onnx":  # it imports TensorFlow: start it quietly first (the runtimes need no TensorFlow)
            import_keras()
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ExportError(
                f"--format {chosen.name} needs {name}, which did not import ({exc}): install it with {EXTRA}"
            ) from None


def _converter_options(resolved) -> dict[str, Any]:
    """The keyword arguments of ``model.export`` for the format: the opset, the LiteRT op set and quantisation."""
    if resolved.format.name == "onnx":
        return {"opset_version": resolved.opset}
    if resolved.format.name != "litert":
        return {}
    import tensorflow as tf

    options: dict[str, Any] = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if resolved.quantize is not None:
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if resolved.quantize == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    return options


@contextmanager
def _quiet_converters() -> Iterator[None]:
    """tf2onnx logs each graph rewrite at INFO, and Keras's NumPy-2 patch of it warns: noise for a person."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _write(keras_model, resolved, target: Path) -> None:
    """Write the export at ``target`` (a path that does not exist yet) with Keras's ``model.export``."""
    try:
        with _quiet_converters():
            keras_model.export(
                str(target), format=resolved.format.keras_format, verbose=False, **_converter_options(resolved)
            )
    except Exception as exc:  # the converters raise their own errors, with the op they could not take
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(
            f"the {resolved.format.name} converter refused {resolved.prepared.model.path}: {first} (docs/export.md "
            f"lists each format's limits)"
        ) from exc


def _run_saved_model(path: Path, ordered: list) -> list:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    outputs = loaded.serve(ordered if len(ordered) > 1 else ordered[0])
    return [output.numpy() for output in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def _run_onnx(path: Path, named: dict, ordered: list) -> list:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = session.get_inputs()
    by_name = all(feed.name in named for feed in feeds)
    return session.run(None, {feed.name: named[feed.name] if by_name else array for feed, array in zip(feeds, ordered)})


def _run_litert(path: Path, named: dict, ordered: list) -> list:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    signature = interpreter.get_signature_list()["serving_default"]
    runner = interpreter.get_signature_runner()
    names = signature["inputs"]
    feeds = {name: named[name] for name in names} if all(n in named for n in names) else dict(zip(names, ordered))
    results = runner(**feeds)
    # Keras names the outputs output_0, output_1, ... in the model's order
    return [results[name] for name in sorted(results, key=lambda name: int(name.rpartition("_")[2] or 0))]


def _run(chosen: Format, path: Path, named: dict, ordered: list) -> list:
    """The export's outputs on the batch, loaded and run by the format's own runtime."""
    if chosen.name == "saved_model":
        return _run_saved_model(path, ordered)
    if chosen.name == "onnx":
        return _run_onnx(path, named, ordered)
    return _run_litert(path, named, ordered)


def seeded_batch(keras_model, resolved) -> tuple[dict, list, list]:
    """The seeded batch that fits the inputs (by name, and in the model's order) and Keras's outputs on it."""
    import numpy as np

    named, _ = random_batch(resolved.prepared.model, VERIFY_BATCH, resolved.seed)
    names = [tensor.name for tensor in keras_model.inputs]
    ordered = [named[name] for name in names] if all(n in named for n in names) else list(named.values())
    expected = keras_model(ordered if len(ordered) > 1 else ordered[0], training=False)
    expected = [np.asarray(value) for value in (expected if isinstance(expected, (list, tuple)) else [expected])]
    return named, ordered, expected


def _difference(mine, theirs) -> float:
    """max |mine - theirs|; infinite when the shapes differ (never broadcast one output against another)."""
    import numpy as np

    if mine.shape != theirs.shape:
        return math.inf
    return float(np.max(np.abs(mine.astype(np.float64) - theirs))) if theirs.size else 0.0


def verify(keras_model, resolved, path: Path, batch: tuple[dict, list, list]) -> tuple[dict[str, float], float]:
    """Run the export at ``path`` in its runtime on the seeded ``batch`` and compare with Keras's outputs on it: the
    largest difference per output, and the scale of Keras's outputs (max(1, max |output|)) the tolerance is
    relative to."""
    import numpy as np

    named, ordered, expected = batch
    try:
        got = _run(resolved.format, path, named, ordered)
    except Exception as exc:  # the runtime refused the file: the converter wrote something it cannot run
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(
            f"{resolved.format.runtime} could not run the {resolved.format.name} export: {first}"
        ) from exc
    outputs = [tensor.name for tensor in keras_model.outputs]
    differences = {name: _difference(np.asarray(mine), theirs) for name, mine, theirs in zip(outputs, got, expected)}
    if len(got) != len(expected):
        differences["outputs"] = math.inf  # the export lost (or made up) an output
    scale = max([1.0] + [float(np.max(np.abs(values))) for values in expected if values.size])
    return differences, scale


@contextmanager
def _replacing_folder(path: Path) -> Iterator[Path]:
    """A new folder beside ``path`` that replaces it (and whatever was there) when the block ends without an error;
    deleted otherwise."""
    holder = Path(tempfile.mkdtemp(prefix=".modelspec-", dir=path.parent.resolve()))
    try:
        yield holder / path.name
        previous = holder / "previous"
        if path.exists():
            os.replace(path, previous)
        try:
            os.replace(holder / path.name, path)
        except OSError:
            if previous.exists():  # put the old folder back before the holder goes
                os.replace(previous, path)
            raise
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def export_verified(keras_model, resolved) -> Verified:
    """Write the export, verify it in its runtime, then put it in place: ``resolved.output`` (a ResolvedExport)."""
    output: Path = resolved.output
    batch = seeded_batch(keras_model, resolved)  # first: Keras exports only a model that has been called
    if resolved.format.name == "saved_model":
        writing = _replacing_folder(output)
    else:
        writing = replacing(output, output.suffix)
    with writing as temporary:
        target = Path(temporary)
        if target.exists():  # mkstemp made the file: the converters write their own
            target.unlink()
        start = time.perf_counter()
        _write(keras_model, resolved, target)
        written = time.perf_counter()
        differences, scale = verify(keras_model, resolved, target, batch)
        verified = Verified(differences, scale, VERIFY_BATCH, written - start, time.perf_counter() - written)
        if verified.difference > resolved.tolerance * scale:
            raise ExportMismatch(
                f"the {resolved.format.name} export disagrees with Keras: max |difference| "
                f"{verified.difference:.3g} > {allowed(resolved.tolerance, scale)} on the seeded batch of "
                f"{VERIFY_BATCH} ({', '.join(f'{name} {value:.3g}' for name, value in differences.items())}); "
                f"nothing was written"
            )
    return verified
