"""`modelspec lint` end to end: exit codes, the four formats, suppression, configuration, build's lint gate."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from modelspec.cli import cli
from modelspec.linter import registry
from modelspec.linter.config import ConfigError, load_config
from modelspec.report.text import use_color

ROOT = Path(__file__).resolve().parent.parent
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"  # OASIS SARIF 2.1.0 (errata 01)

CLEAN = """\
modelspec: 1
name: clean
seed: 1
input: {shape: [32]}
layers:
  - {type: dense, units: 64, activation: relu}
  - {type: dense, units: 10, activation: softmax}
"""
ERROR = """\
modelspec: 1
name: broken
seed: 1
input: {shape: [32]}
layers:
  - {type: dense, units: 64, activation: relu, kernel_initializer: zeros}
  - {type: dense, units: 10, activation: softmax}
"""
WARNING = """\
modelspec: 1
name: warned
seed: 1
input: {shape: [32]}
layers:
  - {type: dense, units: 64, activation: softmax}
  - {type: dense, units: 10, activation: softmax}
"""


def write(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run(*args, env=None):
    return CliRunner().invoke(cli, ["lint", *map(str, args)], catch_exceptions=False, env=env)


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path, monkeypatch):
    """Run from a folder without a pyproject.toml, outside GitHub Actions."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


# --- exit codes -------------------------------------------------------------------------------------------


def test_the_example_specs_are_clean():
    result = run(ROOT / "specs")
    assert result.exit_code == 0, result.output
    assert f"All checks passed ({len(list((ROOT / 'specs').glob('*.yaml')))} files)." in result.output


def test_error_exits_1_with_location_message_and_hint(tmp_path):
    result = run(write(tmp_path, ERROR))
    assert result.exit_code == 1
    assert f"{tmp_path / 'spec.yaml'}:6:48: error[MS101] dense: kernel of 'dense' is zeros" in result.output
    assert "\n  hint: use `kernel_initializer: auto`" in result.output


def test_warnings_pass_unless_strict(tmp_path):
    path = write(tmp_path, WARNING)
    assert run(path).exit_code == 0
    assert run(path, "--strict").exit_code == 1


def test_invalid_or_missing_spec_exits_2(tmp_path):
    bad = write(tmp_path, "modelspec: 1\nlayers: []\n", "bad.yaml")
    result = run(bad, write(tmp_path, ERROR, "error.yaml"))
    assert result.exit_code == 2
    assert "error[MS001]" in result.output and "error[MS101]" in result.output
    assert run(tmp_path / "missing.yaml").exit_code == 2


def test_folders_are_searched_recursively(tmp_path):
    write(tmp_path, CLEAN, "a.yaml")
    (tmp_path / "nested").mkdir()
    write(tmp_path / "nested", ERROR, "b.yml")
    (tmp_path / ".hidden").mkdir()
    write(tmp_path / ".hidden", "not: a spec\n", "c.yaml")
    result = run(tmp_path)
    assert result.exit_code == 1
    assert "b.yml:6:48" in result.output and "in 2 files" in result.output


def test_a_folder_without_specs_is_a_usage_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run(tmp_path / "empty")
    assert result.exit_code == 2 and "no .yaml or .yml files" in result.output


def test_specs_only_skips_other_yaml(tmp_path):
    other = write(tmp_path, "name: CI\non: push\n", "workflow.yaml")
    assert run(other).exit_code == 2
    assert run(other, write(tmp_path, CLEAN), "--specs-only").exit_code == 0


def test_select_and_ignore(tmp_path):
    path = write(tmp_path, ERROR)
    assert run(path, "--ignore", "MS101").exit_code == 0
    assert run(path, "--ignore", "constant-hidden-kernel").exit_code == 0
    assert run(path, "--select", "MS2,MS3").exit_code == 0
    assert run(path, "--select", "ALL").exit_code == 1
    unknown = run(path, "--ignore", "MS1O1")
    assert unknown.exit_code == 2 and "unknown rule 'MS1O1'" in unknown.output
    assert run(path, "--ignore", "MS001").exit_code == 2  # structural: never ignorable


# --- formats ----------------------------------------------------------------------------------------------


def test_json_format_is_exactly_the_documented_one(tmp_path):
    path = write(tmp_path, ERROR)
    result = run(path, write(tmp_path, CLEAN, "clean.yaml"), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) == {"version", "files", "diagnostics", "summary"}
    assert data["version"] == 1 and data["files"] == 2
    assert data["summary"] == {"error": 1, "warning": 0, "info": 0}
    (finding,) = data["diagnostics"]
    assert finding == {
        "path": str(path),
        "line": 6,
        "column": 48,
        "code": "MS101",
        "name": "constant-hidden-kernel",
        "level": "error",
        "message": finding["message"],
        "hint": finding["hint"],
        "layer": "dense",
    }


def test_github_annotations(tmp_path):
    result = run(write(tmp_path, ERROR), "--format", "github")
    first = result.output.splitlines()[0]
    assert first.startswith(
        f"::error file={tmp_path / 'spec.yaml'},line=6,col=48,title=MS101 "
        "constant-hidden-kernel::kernel of 'dense' is zeros"
    )
    assert "%0Ahint: " in first


def test_github_format_is_the_default_in_github_actions(tmp_path):
    result = run(write(tmp_path, WARNING), env={"GITHUB_ACTIONS": "true"})
    assert result.output.startswith("::warning file=")


def test_github_escapes_properties():
    from modelspec.diagnostics import Diagnostic, Level
    from modelspec.report.github import annotation

    text = annotation(Diagnostic("a,b:c.yaml", 1, 2, "MS101", "x", Level.INFO, "50% done\nnext"))
    assert text == "::notice file=a%2Cb%3Ac.yaml,line=1,col=2,title=MS101 x::50%25 done%0Anext"


def test_sarif_is_valid_sarif_2_1_0(tmp_path):
    write(tmp_path, ERROR, "error.yaml")
    write(tmp_path, WARNING, "warn ing.yaml")
    write(tmp_path, "modelspec: 1\nlayers: []\n", "bad.yaml")
    result = run(tmp_path, "--format", "sarif")
    assert result.exit_code == 2
    log = json.loads(result.output)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    results = log["runs"][0]["results"]
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert {r["ruleId"] for r in results} == {"MS001", "MS101", "MS203"}
    for entry in results:
        assert rules[entry["ruleIndex"]]["id"] == entry["ruleId"]
    assert any(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("warn%20ing.yaml") for r in results
    )
    assert {r["id"] for r in rules} >= set(registry.RULES)


def test_text_colour_follows_the_terminal_and_no_color():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert use_color(Terminal(), {}) is True
    assert use_color(Terminal(), {"NO_COLOR": "1"}) is False
    assert use_color(io.StringIO(), {}) is False


def test_text_colour_output(tmp_path):
    from modelspec.linter.runner import lint_paths
    from modelspec.report.text import render

    stream = io.StringIO()
    render(lint_paths([write(tmp_path, ERROR)]), stream, color=True)
    assert "\x1b[" in stream.getvalue() and "error[MS101]" in stream.getvalue()


# --- suppression and configuration ------------------------------------------------------------------------


def test_inline_ignore_on_the_layer_line(tmp_path):
    text = ERROR.replace("kernel_initializer: zeros}", "kernel_initializer: zeros}  # modelspec: ignore[MS101]")
    assert run(write(tmp_path, text)).exit_code == 0


def test_inline_ignore_on_another_line_of_a_block_layer(tmp_path):
    text = CLEAN.replace(
        "  - {type: dense, units: 64, activation: relu}",
        "  - type: dense   # modelspec: ignore[MS101, MS103]\n    units: 64\n    activation: relu\n"
        "    kernel_initializer: zeros",
    )
    assert run(write(tmp_path, text)).exit_code == 0
    assert run(write(tmp_path, text.replace("MS101, ", ""))).exit_code == 1  # the comment names codes, not all


def test_inline_ignore_with_an_unknown_code_is_an_error(tmp_path):
    text = ERROR.replace("kernel_initializer: zeros}", "kernel_initializer: zeros}  # modelspec: ignore[MS1O1]")
    result = run(write(tmp_path, text))
    assert result.exit_code == 2
    assert "6:96: error[MS001] ignore comment: unknown rule 'MS1O1'" in result.output


def test_spec_lint_block(tmp_path):
    assert run(write(tmp_path, ERROR + "lint:\n  ignore: [MS101]\n")).exit_code == 0
    result = run(write(tmp_path, ERROR + "lint:\n  ignore: [MS101, nope]\n"))
    assert result.exit_code == 2
    assert "9:19: error[MS001] lint.ignore[1]: unknown rule 'nope'" in result.output


def test_pyproject_configuration(tmp_path):
    spec = write(tmp_path, CLEAN.replace("activation: relu}", "activation: relu, kernel_initializer: glorot_uniform}"))
    assert run(spec, "--strict").exit_code == 0  # MS103 is info
    (tmp_path / "pyproject.toml").write_text(
        '[tool.modelspec.lint]\nignore = ["MS109"]\n[tool.modelspec.lint.levels]\nMS103 = "error"\n'
    )
    result = run(spec)
    assert result.exit_code == 1 and "error[MS103]" in result.output
    (tmp_path / "pyproject.toml").write_text(
        '[tool.modelspec.lint]\nselect = ["MS11"]\n[tool.modelspec.lint.thresholds]\nvanishing-scale = 2.0\n'
    )
    result = run(spec)
    assert "warning[MS110]" in result.output and "MS103" not in result.output


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[tool.modelspec.lint]\nselect = ["MS999"]\n', "unknown rule 'MS999'"),
        ('[tool.modelspec.lint]\nignor = ["MS101"]\n', "unknown key 'ignor'; did you mean 'ignore'?"),
        ('[tool.modelspec.lint.levels]\nMS101 = "fatal"\n', "must be error, warning or info"),
        ("[tool.modelspec.lint.thresholds]\nvanishing = 0.1\n", "did you mean 'vanishing-scale'?"),
    ],
)
def test_bad_pyproject_is_a_usage_error(tmp_path, toml, message):
    (tmp_path / "pyproject.toml").write_text(toml)
    result = run(write(tmp_path, CLEAN))
    assert result.exit_code == 2 and message in result.output
    with pytest.raises(ConfigError, match=message.split(";")[0].replace("'", ".")):
        load_config(start=tmp_path)


# --- build lints first ------------------------------------------------------------------------------------


def test_build_stops_on_lint_errors_before_importing_tensorflow(tmp_path):
    spec = write(tmp_path, ERROR)
    code = (
        "import sys; from modelspec.cli import main; sys.argv = ['modelspec', 'build', sys.argv[1], '-o', "
        "sys.argv[2]]\ntry:\n    main()\nexcept SystemExit as exit:\n"
        "    print('tf', 'tensorflow' in sys.modules, 'keras' in sys.modules); sys.exit(exit.code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(spec), str(tmp_path / "m.keras")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "error[MS101]" in done.stdout and "tf False False" in done.stdout
    assert "build stopped by lint errors" in done.stderr
    assert not (tmp_path / "m.keras").exists()


def test_build_strict_stops_on_warnings(tmp_path):
    result = CliRunner().invoke(cli, ["build", str(write(tmp_path, WARNING)), "--strict"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "warning[MS203]" in result.output


# --- lint never imports TensorFlow ------------------------------------------------------------------------


def test_lint_leaves_tensorflow_and_keras_out_of_sys_modules():
    code = textwrap.dedent("""
        import sys
        from modelspec import lint
        from modelspec.linter import registry
        from modelspec.cli import cli
        from click.testing import CliRunner
        for rule in registry.RULES.values():
            lint(rule.docs.example)
        CliRunner().invoke(cli, ["lint", "specs", "--format", "sarif"])
        CliRunner().invoke(cli, ["rules", "MS110"])
        print(sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras")))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_pre_commit_hook_runs_modelspec_lint():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [hook for hook in hooks if hook["id"] == "modelspec-lint"]  # tests/test_pre_commit.py runs them all
    assert hook["entry"].startswith("modelspec lint") and hook["language"] == "python"
    assert hook["types"] == ["yaml"]
