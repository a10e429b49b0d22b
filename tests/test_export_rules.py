"""The export-readiness rules (MS5xx) against the converters they speak for: each rule's example, exported with
the rule switched off, really fails in the converter or the format's runtime, and its fixed spec exports and agrees
with Keras. If a new tf2onnx, TensorFlow or ai-edge-litert takes what a rule refuses, the first test fails: the rule
is then out of date (docs/export.md)."""

from __future__ import annotations

import pytest

from modelspec.linter import registry

EXPORT_RULES = [code for code, rule in registry.RULES.items() if rule.formats]
SUFFIX = {"saved_model": ".saved_model", "onnx": ".onnx", "litert": ".tflite"}


def _export(tmp_path, spec: str, export_format: str, without: str):
    import modelspec
    from modelspec.linter.config import load_config

    options = modelspec.Options(config=load_config().without(without), seed=1)
    return modelspec.export(spec, export_format, tmp_path / f"model{SUFFIX[export_format]}", options)


def test_every_export_rule_names_a_format():
    assert EXPORT_RULES == ["MS501", "MS502", "MS503"]
    for code in EXPORT_RULES:
        assert registry.RULES[code].formats <= set(SUFFIX)


@pytest.mark.tensorflow
@pytest.mark.parametrize("code", EXPORT_RULES)
def test_the_converter_fails_where_the_rule_says(tmp_path, code):
    from modelspec.errors import ExportError

    rule = registry.RULES[code]
    (export_format,) = rule.formats
    with pytest.raises(ExportError) as failed:
        _export(tmp_path, rule.docs.example, export_format, without=code)
    assert "refused" in str(failed.value) or "could not run" in str(failed.value)
    assert list(tmp_path.iterdir()) == []  # nothing left behind

    exported = _export(tmp_path, rule.docs.use_instead, export_format, without=code)
    assert exported.verified.difference <= 1e-5


def test_export_runs_the_rule_first(tmp_path):
    import modelspec
    from modelspec.errors import LintFailure

    rule = registry.RULES["MS502"]
    without_setting = rule.docs.example.replace("lint: {export: [litert]}\n", "")
    with pytest.raises(LintFailure) as stopped:
        modelspec.export(without_setting, "litert", tmp_path / "m.tflite")
    assert [d.code for d in stopped.value.diagnostics if d.level.value == "error"] == ["MS502"]


def test_lint_export_option_turns_the_rules_on(tmp_path):
    from click.testing import CliRunner

    from modelspec.cli import cli

    spec = tmp_path / "model.yaml"
    spec.write_text(registry.RULES["MS501"].docs.example.replace("lint: {export: [onnx]}\n", ""))

    def lint(*args):
        return CliRunner().invoke(cli, ["lint", str(spec), *args], catch_exceptions=False)

    assert lint().exit_code == 0  # off by default
    for args in (["--export", "onnx"], ["--export", "litert,onnx"], ["--export", "litert", "--export", "onnx"]):
        result = lint(*args)
        assert result.exit_code == 1 and "model.yaml:6:30: error[MS501]" in result.output, args
    assert lint("--export", "onnx", "--ignore", "MS501").exit_code == 0
    result = lint("--export", "tflite")
    assert result.exit_code == 2 and "'tflite' is not one of saved_model, onnx, litert" in result.output


def test_an_unknown_format_in_the_spec_is_located(tmp_path):
    from modelspec import lint
    from modelspec.errors import SpecError

    text = registry.RULES["MS501"].docs.example.replace("[onnx]", "[onnx, tflite]")
    with pytest.raises(SpecError) as invalid:
        lint(text)
    (problem,) = invalid.value.diagnostics
    assert (problem.line, problem.code) == (8, "MS001") and "tflite" in problem.message
