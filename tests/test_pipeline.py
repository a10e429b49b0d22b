"""The library owns the build's guarantees: the Python API gets the parameter budget, the pretrained checks and
the lint gate that `modelspec build` has, before TensorFlow starts; and only runtime/ imports TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from modelspec import LintFailure, SpecError, build_model
from modelspec.errors import EXIT_INVALID, EXIT_LINT, ModelspecError
from modelspec.pipeline import prepare

PACKAGE = Path(__file__).resolve().parents[1] / "modelspec"
ZEROS_HIDDEN = {
    "modelspec": 1,
    "seed": 1,
    "input": {"shape": [4]},
    "layers": [
        {"type": "dense", "units": 8, "activation": "relu", "kernel_initializer": "zeros"},
        {"type": "dense", "units": 2, "activation": "softmax"},
    ],
}
WARNING_ONLY = {
    "modelspec": 1,
    "seed": 1,
    "input": {"shape": [4]},
    "layers": [
        {"type": "dense", "units": 8, "activation": "softmax"},
        {"type": "dense", "units": 2, "activation": "softmax"},
    ],
}


def test_prepare_stops_on_lint_errors_with_every_finding():
    with pytest.raises(LintFailure) as caught:
        prepare(ZEROS_HIDDEN)
    assert caught.value.exit_code == EXIT_LINT
    assert [d.code for d in caught.value.diagnostics] == ["MS101"]
    assert str(caught.value) == "build stopped by lint errors in <dict>"


def test_warnings_pass_the_gate_and_are_returned_unless_strict():
    prepared = prepare(WARNING_ONLY)
    assert [d.code for d in prepared.findings] == ["MS203"]
    with pytest.raises(LintFailure, match=r"lint errors or warnings \(--strict\)"):
        prepare(WARNING_ONLY, strict=True)
    assert prepare(ZEROS_HIDDEN, lint=False).findings == []


def test_the_budget_is_checked_before_anything_else():
    with pytest.raises(SpecError) as caught:
        prepare(ZEROS_HIDDEN, max_params=10)
    (diagnostic,) = caught.value.diagnostics
    assert caught.value.exit_code == EXIT_INVALID
    assert diagnostic.message == "the model has 58 parameters, more than --max-params 10"


def test_build_model_refuses_before_importing_tensorflow():
    code = (
        "import sys\nfrom modelspec import LintFailure, SpecError, build_model\n"
        f"spec = {ZEROS_HIDDEN!r}\n"
        "for kwargs, error in (({}, LintFailure), ({'max_params': 10, 'lint': False}, SpecError)):\n"
        "    try:\n        build_model(spec, **kwargs)\n    except error:\n        pass\n"
        "    else:\n        raise SystemExit('no error')\n"
        "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.tensorflow
def test_build_model_without_the_gate_builds_what_keras_builds(keras):
    model = build_model(ZEROS_HIDDEN, lint=False)
    assert model.count_params() == 58
    assert not model.get_layer("dense").kernel.numpy().any()


def test_every_user_error_has_an_exit_code():
    from modelspec import errors

    for error in (
        errors.SpecError([]),
        errors.WeightsError("x"),
        errors.SettingsError("x"),
        errors.LintFailure("p", [], False),
        errors.BuildError("x"),
    ):
        assert isinstance(error, ModelspecError) and error.exit_code in (EXIT_LINT, EXIT_INVALID)


def _imports_tensorflow(path: Path) -> list[str]:
    """Every import of tensorflow or keras in a module, at any depth (lazy and importlib imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]  # importlib.import_module("keras")
        else:
            names = []
        found += [
            f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {name}"
            for name in names
            if name.split(".")[0] in ("tensorflow", "keras")
        ]
    return found


def test_only_runtime_imports_tensorflow_or_keras():
    offenders = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if "runtime" not in path.relative_to(PACKAGE).parts
        for hit in _imports_tensorflow(path)
    ]
    assert offenders == []
    # The scan sees imports: runtime/ has them (a scan that finds nothing anywhere would pass vacuously).
    assert any(_imports_tensorflow(path) for path in (PACKAGE / "runtime").rglob("*.py"))


def test_schema_output_is_written_atomically(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import modelspec.atomic as atomic
    from modelspec.cli import cli

    target = tmp_path / "schema.json"
    target.write_text("old")

    def fail(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", fail)
    result = CliRunner().invoke(cli, ["schema", "-o", str(target)], catch_exceptions=False)
    assert result.exit_code == 2 and f"error: cannot write {target}: No space left on device" in result.output
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["schema.json"]
    monkeypatch.undo()
    assert CliRunner().invoke(cli, ["schema", "-o", str(target)]).exit_code == 0
    assert target.read_text().startswith("{")
