"""Shared helpers for the core tests: spec files, Keras facts about built layers, and subprocesses.

Also the `tensorflow` marker, for tests that need the [tf] extra. `make test` runs every test with TensorFlow; the
nox sessions (noxfile.py) run the others on Python 3.10 and 3.13 with `pip install .[test]` only, with
`-m "not tensorflow"` and MODELSPEC_TESTS_WITHOUT_TENSORFLOW=1, under which a module marked as a whole
(`pytestmark = pytest.mark.tensorflow`) is not even imported: its imports (numpy, h5py, keras) would fail.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
SPEC_IDS = [path.stem for path in SPECS]

WITHOUT_TENSORFLOW_VARIABLE = "MODELSPEC_TESTS_WITHOUT_TENSORFLOW"
WITHOUT_TENSORFLOW = os.environ.get(WITHOUT_TENSORFLOW_VARIABLE) == "1"


def load_script(name: str, path: Path):
    """A script of this repository (tools/, benchmarks/, examples/: not packages) loaded as module ``name``; it
    stays in ``sys.modules``, where dataclasses look their module up."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def marked_tensorflow_as_a_whole(path: Path) -> bool:
    """Whether a test module's top-level `pytestmark` includes `pytest.mark.tensorflow`, read without importing it."""
    for node in ast.parse(path.read_bytes(), filename=str(path)).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(target, ast.Name) and target.id == "pytestmark" for target in targets):
            return any(ast.unparse(part) == "pytest.mark.tensorflow" for part in ast.walk(node.value))
    return False


def pytest_ignore_collect(collection_path: Path, config):
    if (
        WITHOUT_TENSORFLOW
        and collection_path.suffix == ".py"
        and collection_path.name.startswith("test_")
        and marked_tensorflow_as_a_whole(collection_path)
    ):
        return True
    return None  # no opinion: pytest's own rules decide


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "keras" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.tensorflow)


def pytest_report_header(config):
    if WITHOUT_TENSORFLOW:
        return (
            f"{WITHOUT_TENSORFLOW_VARIABLE}=1: no TensorFlow; test modules marked tensorflow as a whole are "
            "not collected"
        )
    return None


def spec_dict(layers: list, *, input_shape=None, inputs=None, outputs=None, seed=None, **extra) -> dict:
    """Return a minimal spec dict around ``layers`` (one input of ``input_shape`` unless ``inputs`` is given)."""
    spec: dict = {"modelspec": 1, "name": "case", "layers": layers, **extra}
    if inputs is not None:
        spec["inputs"] = inputs
    else:
        spec["input"] = {"shape": list(input_shape)}
    if outputs is not None:
        spec["outputs"] = outputs
    if seed is not None:
        spec["seed"] = seed
    return spec


def write_spec(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    """Write dedented YAML text to ``folder/name`` and return the path."""
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def keras_output_shape(layer) -> tuple:
    """Return a built Keras layer's output shape without the batch axis."""
    return tuple(layer.output.shape)[1:]


def size(shape) -> int:
    return math.prod(int(d) for d in shape)


def variable_shapes(variables, trainable=None) -> list[tuple]:
    """Sorted (shape, trainable) pairs of Keras variables, for comparing with the static analysis."""
    return sorted(
        (tuple(int(d) for d in v.shape), bool(trainable if trainable is not None else v.trainable)) for v in variables
    )


def python(code: str, *, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this venv and return the finished process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def keras():
    """Import Keras once, as modelspec does, for the tests that build models (requesting it marks them tensorflow)."""
    from modelspec.runtime.tensorflow_env import import_keras

    return import_keras()
