"""Shared helpers for the core tests: spec files, Keras facts about built layers, and subprocesses."""

from __future__ import annotations

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
    return sorted((tuple(int(d) for d in v.shape), bool(trainable if trainable is not None else v.trainable))
                  for v in variables)


def python(code: str, *, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this venv and return the finished process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def keras():
    """Import Keras once, for the tests that build models."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras as keras_module

    return keras_module
