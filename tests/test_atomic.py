"""Nothing lost: a build that fails at any step leaves an existing output untouched and no partial file behind.

Failures are injected with monkeypatch into the real functions each step calls: validation (an invalid spec),
model construction (a Keras layer that raises while building its weights), saving (keras.Model.save, after it
has written part of the file) and the final rename.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelspec.cli import cli

SPEC = """\
modelspec: 1
name: atomic
seed: 7
input: {shape: [6]}
layers:
  - {type: dense, units: 5, activation: relu}
  - {type: dense, units: 2, activation: softmax}
"""
OLD = b"the previous build, which a failed build must not touch\n"


class Injected(Exception):
    """A failure that no code path expects by name."""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "out.keras").write_bytes(OLD)
    return tmp_path


def build(*extra: str):
    return CliRunner().invoke(cli, ["build", "spec.yaml", "-o", "out.keras", *extra], catch_exceptions=False)


def assert_untouched(folder: Path, result) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert (folder / "out.keras").read_bytes() == OLD
    assert sorted(p.name for p in folder.iterdir()) == ["out.keras", "spec.yaml"]  # no temporary file left


def test_validation_failure(project):
    (project / "spec.yaml").write_text(SPEC.replace("units: 5", "units: 0"), encoding="utf-8")
    result = build()
    assert_untouched(project, result)
    assert "spec.yaml:6:" in result.output and "must be a positive integer" in result.output


def test_parameter_budget_failure(project):
    assert_untouched(project, build("--max-params", "10"))


@pytest.mark.parametrize(
    "exception",
    [ValueError("injected"), Injected("injected"), MemoryError()],
    ids=["ValueError", "unexpected-exception", "MemoryError"],
)
def test_keras_construction_failure(project, monkeypatch, keras, exception):
    def fail(self, *args, **kwargs):
        raise exception

    monkeypatch.setattr(keras.layers.Dense, "build", fail)
    result = build()
    assert_untouched(project, result)
    assert "could not build" in result.output


def test_keras_allocation_failure(project, monkeypatch, keras):
    """TensorFlow's own out-of-memory error is neither a ValueError nor an OSError."""
    import tensorflow as tf

    def fail(self, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor (injected)")

    monkeypatch.setattr(keras.layers.Dense, "build", fail)
    result = build()
    assert_untouched(project, result)
    assert "OOM when allocating tensor" in result.output


@pytest.mark.parametrize(
    "exception",
    [OSError(28, "No space left on device"), Injected("injected")],
    ids=["disk-full", "unexpected-exception"],
)
def test_save_failure_after_a_partial_write(project, monkeypatch, keras, exception):
    written = []

    def fail(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"PK\x03\x04 half a zip archive")
        written.append(Path(filepath))
        raise exception

    monkeypatch.setattr(keras.Model, "save", fail)
    result = build()
    assert_untouched(project, result)
    # The partial file went to a temporary name in the output's folder, never to the output itself.
    assert written and written[0].parent == project and written[0].name != "out.keras"


def test_rename_failure(project, monkeypatch, keras):
    import modelspec.atomic as atomic

    def fail(source, destination):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(atomic.os, "replace", fail)
    assert_untouched(project, build())


def test_interrupted_save_leaves_no_temporary(tmp_path, monkeypatch, keras):
    from modelspec import build_model
    from modelspec.runtime.builder import save_atomic

    model = build_model(SPEC)
    target = tmp_path / "out.keras"
    target.write_bytes(OLD)

    def interrupted(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_atomic(model, target)
    assert target.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["out.keras"]


@pytest.mark.tensorflow
def test_weights_loading_failure(project, monkeypatch):
    """A failure while assigning the arrays, after the plan passed: the old output stays, nothing else appears."""
    import numpy as np

    from modelspec.runtime import weights

    np.savez(
        project / "weights.npz", **{"dense/kernel": np.ones((6, 5), "float32"), "dense/bias": np.zeros(5, "float32")}
    )

    def broken(*args, **kwargs):
        raise Injected("disk gone while reading the weights")

    monkeypatch.setattr(weights, "read", broken)
    result = build("--weights", "weights.npz")
    (project / "weights.npz").unlink()
    assert_untouched(project, result)
    assert "disk gone while reading the weights" in result.output


def test_a_successful_build_replaces_the_file_whole_and_leaves_no_temporary(project, keras):
    result = build()
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in project.iterdir()) == ["out.keras", "spec.yaml"]
    model = keras.saving.load_model(project / "out.keras")
    assert model.name == "atomic"


def test_the_output_gets_ordinary_permissions(project, keras):
    """The temporary file is created private (0600); the finished output must get the usual umask mode."""
    (project / "out.keras").unlink()
    umask = os.umask(0o022)
    try:
        assert build().exit_code == 0
    finally:
        os.umask(umask)
    assert (project / "out.keras").stat().st_mode & 0o777 == 0o644
