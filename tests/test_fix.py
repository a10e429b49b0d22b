"""`lint --fix` and `modelspec.fix`: each rule's fix against its golden file (tests/fixes/MSxxx.yaml before,
MSxxx.fixed.yaml after, byte for byte), composition, conflicts, blocks, extends, the checks that refuse a bad edit,
and the command line (writes, --diff, the --unsafe-fixes gate, exit codes, JSON stdout, files changed on disk)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import modelspec
from modelspec import source
from modelspec.cli import cli
from modelspec.errors import SettingsError, SpecError
from modelspec.fixing import SAFE, UNSAFE, applicability, edits, fix
from modelspec.fixing.engine import UNSAFE_REASON
from modelspec.fixing.files import fix_file, write
from modelspec.linter import registry
from modelspec.linter.rule import Suggestion
from modelspec.linter.runner import DEFAULT_CONFIG, lint, located

ROOT = Path(__file__).resolve().parent.parent
FIXES = ROOT / "tests" / "fixes"
GOLDEN = sorted(path for path in FIXES.glob("MS*.yaml") if not path.name.endswith(".fixed.yaml"))
BROKEN = FIXES / "broken.yaml"


def codes(text: str, path: str = "<spec>") -> set[str]:
    return {d.code for d in lint(text if "\n" in text else Path(text))}


def invoke(*args: str):
    return CliRunner().invoke(cli, ["lint", *map(str, args)], catch_exceptions=False)


def comments(text: str) -> list[str]:
    return [line[line.index("#") :] for line in text.splitlines() if "#" in line]


# --- golden files, one per fixable rule ------------------------------------------------------------------------


@pytest.mark.parametrize("before", GOLDEN, ids=lambda path: path.stem)
def test_golden_fix(before: Path):
    code = before.stem
    text = before.read_text(encoding="utf-8")
    expected = before.with_name(f"{code}.fixed.yaml").read_text(encoding="utf-8")
    assert code in codes(text), f"{before.name} does not trigger {code}"
    result = fix(text, path=str(before), unsafe=True)
    assert result.text == expected
    assert result.changed and code in {one.code for one in result.applied}
    assert code not in {d.code for d in result.remaining}
    assert code not in codes(expected)
    again = fix(result.text, path=str(before), unsafe=True)  # idempotent
    assert again.text == result.text and not again.applied
    assert comments(expected) == comments(text)  # every comment kept (MS108 removes its entry's own line only)
    if applicability(code) == UNSAFE:
        safe_only = fix(text, path=str(before))
        assert safe_only.text == text and not safe_only.changed
        assert any(skip.code == code and skip.reason == UNSAFE_REASON for skip in safe_only.skipped)


def test_every_rule_with_a_fix_has_a_golden_file_and_only_those():
    fixable = {code for code in registry.RULES if applicability(code) != "none"}
    assert fixable == {path.stem for path in GOLDEN}
    assert {applicability(code) for code in registry.RULES} <= {"safe", "unsafe", "none"}


def test_the_fixed_text_differs_only_in_the_edited_lines():
    """Lines outside the edits are identical: compare the golden pairs line by line with difflib's opcodes."""
    import difflib

    for before in GOLDEN:
        old = before.read_text(encoding="utf-8").splitlines()
        new = before.with_name(f"{before.stem}.fixed.yaml").read_text(encoding="utf-8").splitlines()
        changed = [op for op in difflib.SequenceMatcher(None, old, new).get_opcodes() if op[0] != "equal"]
        assert 1 <= len(changed) <= 2, (before.name, changed)


# --- composition, conflicts, order ---------------------------------------------------------------------------


def test_broken_spec_composes_every_fix_and_keeps_every_comment(tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_bytes(BROKEN.read_bytes())
    result = invoke(spec, "--fix")
    fixed = spec.read_text(encoding="utf-8")
    assert result.exit_code == 0, result.output
    assert f"Fixed 6 findings in {spec}" in result.stderr
    assert comments(fixed) == comments(BROKEN.read_text(encoding="utf-8"))
    assert codes(str(spec)) == set()
    # the same text as modelspec.fix gives, and a second run changes nothing
    assert fixed == fix(BROKEN.read_text(encoding="utf-8"), path=str(spec)).text
    second = invoke(spec, "--fix")
    assert second.exit_code == 0 and "Fixed" not in second.stderr
    assert spec.read_text(encoding="utf-8") == fixed


def test_conflicting_fixes_are_resolved_by_level_then_code():
    # The hidden softmax before a tanh layer: MS201 wants `linear` there, MS203 `relu`; both warnings, so MS201
    # (the lower code) is made, and MS203's finding is gone with it.
    text = textwrap.dedent("""\
        modelspec: 1
        name: clash
        seed: 1
        input: {shape: [16]}
        layers:
          - {type: dense, units: 32, activation: softmax}
          - {type: activation, activation: tanh}
          - {type: dense, units: 10, activation: softmax}
        """)
    assert {"MS201", "MS203"} <= codes(text)
    result = fix(text, unsafe=True)
    assert "{type: dense, units: 32, activation: linear}" in result.text
    assert [one.code for one in result.applied] == ["MS201"]
    assert not {"MS201", "MS203"} & {d.code for d in result.remaining}


def test_two_findings_that_want_the_same_edit_make_it_once():
    text = "modelspec: 1\nname: x\nseed: 1\ninput: {shape: [16]}\nlayers:\n" + (
        "  - {type: dense, units: 32, activation: relu, kernel_initializer: ones}\n"
        "  - {type: dense, units: 10, activation: softmax}\n"
    )
    result = fix(text)
    assert {one.code for one in result.applied} == {"MS101", "MS105"}
    assert result.text == text.replace("kernel_initializer: ones", "kernel_initializer: auto")


def test_a_fix_that_reveals_another_finding_is_fixed_in_the_next_round():
    # Removing the repeated seed leaves the model without any seed: MS109 asks for one, and gets it.
    text = textwrap.dedent("""\
        modelspec: 1
        name: seeds
        input: {shape: [16]}
        layers:
          - {type: dense, units: 32, activation: relu, kernel_initializer: {type: he_normal, seed: 5}}
          - {type: dense, units: 10, activation: softmax, kernel_initializer: {type: glorot_uniform, seed: 5}}
        """)
    result = fix(text)
    assert [one.code for one in result.applied] == ["MS108", "MS109"]
    assert "seed: 42\n" in result.text and "{type: glorot_uniform}" in result.text
    assert fix(result.text).text == result.text


def test_an_ignored_finding_is_not_fixed():
    text = (
        "modelspec: 1\nname: x\nseed: 1\ninput: {shape: [16]}\nlayers:\n"
        "  - {type: dense, units: 32, activation: relu, kernel_initializer: zeros}  # modelspec: ignore[MS101]\n"
        "  - {type: dense, units: 10, activation: softmax}\n"
    )
    assert fix(text).text == text


# --- blocks and extends ----------------------------------------------------------------------------------------

BLOCKS = """\
modelspec: 1
name: blocks
seed: 1
input: {shape: [8]}
blocks:
  hidden:
    params: {act: relu, init: he_normal}
    layers:
      - {type: dense, name: a, units: 16, activation: relu, kernel_initializer: zeros}
      - {type: dense, name: b, units: 16, activation: $act, kernel_initializer: he_normal}
      - {type: dense, name: c, units: 16, activation: tanh, kernel_initializer: $init}
layers:
  - {block: hidden, name: h1, act: tanh, init: he_uniform}
  - {block: hidden, name: h2, init: glorot_uniform}
  - {type: dense, name: out, units: 10, activation: softmax}
"""


def test_blocks_definition_use_and_shared_values():
    result = fix(BLOCKS)
    lines = result.text.splitlines()
    # every use wants `auto` for layer a: the definition changes, once
    assert lines[8] == "      - {type: dense, name: a, units: 16, activation: relu, kernel_initializer: auto}"
    definition = ("blocks", "hidden", "layers", 0, "kernel_initializer")
    assert [one.code for one in result.applied if one.path == definition] == ["MS101", "MS101"]  # h1_a and h2_a
    # b's he_normal feeds tanh in h1 only (relu in h2): the definition is shared, so it is skipped, with a reason
    assert lines[9] == BLOCKS.splitlines()[9]
    assert any("shared by 2 places" in skip.reason and skip.code == "MS102" for skip in result.skipped)
    # c's initializer comes from a parameter given at the use h1: the use's argument changes
    assert lines[12] == "  - {block: hidden, name: h1, act: tanh, init: glorot_uniform}"
    assert lines[13] == BLOCKS.splitlines()[13]
    assert [d.code for d in result.remaining] == ["MS102"]
    assert fix(result.text).text == result.text


def test_a_value_from_an_extended_base_is_not_fixed(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(
        "modelspec: 1\nname: base\nseed: 1\ninput: {shape: [8]}\nlayers:\n"
        "  - {type: dense, name: h, units: 16, activation: tanh, kernel_initializer: he_normal}\n"
        "  - {type: dense, name: out, units: 10, activation: softmax}\n"
        "training:\n  optimizer: {type: adam, learning_rate: 5.0}\n  loss: categorical_crossentropy\n"
    )
    child = tmp_path / "child.yaml"
    text = "extends: base.yaml\nname: child\ntraining:\n  optimizer: {learning_rate: 9.0}\n"
    child.write_text(text)
    result = fix(text, path=child)
    assert result.text == text.replace("9.0", "0.001")  # the child's own value is fixed
    skip = next(skip for skip in result.skipped if skip.code == "MS102")
    assert f"set in {base}:6:" in skip.reason
    assert base.read_text().count("he_normal") == 1


# --- the checks ------------------------------------------------------------------------------------------------


def test_an_edit_that_does_not_read_back_as_intended_is_refused(monkeypatch):
    # The one monkeypatch of this file: an edit function that writes a wrong value for one fix, as a bug would.
    # That fix is not made (its finding stays, with an internal-error note); the other fix of the file is.
    text = (
        (FIXES / "MS102.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "layers:\n",
            "training: {optimizer: {type: adam, learning_rate: 5.0}, loss: categorical_crossentropy}\nlayers:\n",
        )
    )
    written = edits.scalar_text
    monkeypatch.setattr(
        edits,
        "scalar_text",
        lambda value, style=None: "he_uniform" if value == "glorot_uniform" else written(value, style),
    )
    result = fix(text)
    assert [one.code for one in result.applied] == ["MS303"]
    assert result.text == text.replace("learning_rate: 5.0", "learning_rate: 0.001")
    assert {d.code for d in result.remaining} == {"MS102"}
    reasons = [s.reason for s in result.skipped if s.code == "MS102"]
    assert reasons and all(r.startswith("internal error: the edited text does not read back") for r in reasons)


def test_an_invalid_spec_is_not_fixed(tmp_path):
    text = "modelspec: 1\nname: x\ninput: {shape: [8]}\nlayers:\n  - {type: dense, unitz: 3}\n"
    with pytest.raises(SpecError):
        fix(text)
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    result = invoke(spec, "--fix")
    assert result.exit_code == 2
    assert f"{spec}:5:" in result.output and "unitz" in result.output
    assert "Traceback" not in result.output and spec.read_text() == text


def test_fix_never_imports_tensorflow():
    code = (
        "import sys, modelspec; "
        f"modelspec.fix(open({str(BROKEN)!r}).read()); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_scalar_text_keeps_the_quoting_and_reads_back():
    for value, style in [("auto", None), ("auto", "'"), ("auto", '"'), ("it's", "'"), ("yes", None), ("1e3", None)]:
        written = scalar_text_round_trip(value, style)
        assert written == value
    assert edits.scalar_text(False) == "false" and edits.scalar_text(0.001) == "0.001"


def scalar_text_round_trip(value, style):
    return source.parse(f"key: {edits.scalar_text(value, style)}\n").data["key"]


# --- the command line ------------------------------------------------------------------------------------------


@pytest.fixture
def broken(tmp_path) -> Path:
    spec = tmp_path / "broken.yaml"
    spec.write_bytes(BROKEN.read_bytes())
    return spec


def test_diff_prints_a_patch_and_writes_nothing(broken):
    before = broken.read_bytes()
    result = invoke(broken, "--diff")
    assert broken.read_bytes() == before
    assert result.exit_code == 0
    name = broken.as_posix().lstrip("/")
    assert result.stdout.startswith(f"--- a/{name}\n+++ b/{name}\n@@ ")
    assert "-    kernel_initializer: zeros     # MS101\n+    kernel_initializer: auto     # MS101\n" in result.stdout
    assert f"Would fix 6 findings in {broken}" in result.stderr
    assert "All checks passed" in result.stderr  # the report of the fixed text goes to stderr with --diff


def test_unsafe_fixes_need_fix_or_diff_and_run_only_when_asked(tmp_path):
    spec = tmp_path / "ms301.yaml"
    spec.write_bytes((FIXES / "MS301.yaml").read_bytes())
    gate = invoke(spec, "--unsafe-fixes")
    assert gate.exit_code == 2 and "--unsafe-fixes needs --fix or --diff" in gate.output
    safe = invoke(spec, "--fix")
    level = next(d.level.value for d in lint(spec) if d.code == "MS301")  # a finding may have its own level
    assert safe.exit_code == (1 if level == "error" else 0)  # the finding remains and decides the exit code
    assert f"{spec}: 1 fix needs --unsafe-fixes" in safe.stderr and f"{level}[MS301]" in safe.stdout
    assert spec.read_bytes() == (FIXES / "MS301.yaml").read_bytes()
    unsafe = invoke(spec, "--fix", "--unsafe-fixes")
    assert unsafe.exit_code == 0, unsafe.output
    assert spec.read_bytes() == (FIXES / "MS301.fixed.yaml").read_bytes()


def test_set_and_data_are_refused_with_fix(broken):
    result = invoke(broken, "--fix", "--set", "seed=3")
    assert result.exit_code == 2 and "do not take --set" in result.output
    result = invoke(broken, "--fix", "--data", "digits")
    assert result.exit_code == 2 and "do not take --data" in result.output


def test_json_report_stays_valid_json_on_stdout(broken):
    result = invoke(broken, "--fix", "--unsafe-fixes", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert isinstance(report, (dict, list))
    assert "Fixed 6 findings" in result.stderr


def test_a_file_changed_on_disk_is_not_overwritten(broken):
    fixed = fix_file(broken)
    assert fixed.changed
    broken.write_text(broken.read_text() + "# edited meanwhile\n")
    with pytest.raises(SettingsError, match="changed on disk since it was read; not overwritten"):
        write(fixed)
    assert broken.read_text().endswith("# edited meanwhile\n")
    fixed = fix_file(broken)
    write(fixed)
    assert broken.read_text() == fixed.result.text
    assert not list(broken.parent.glob(".modelspec-*"))  # the atomic write left no temporary file


def test_fix_over_a_folder_reports_each_file(tmp_path):
    (tmp_path / "a.yaml").write_bytes((FIXES / "MS102.yaml").read_bytes())
    (tmp_path / "b.yaml").write_bytes((FIXES / "MS303.yaml").read_bytes())
    result = invoke(tmp_path, "--fix")
    assert result.exit_code == 0, result.output
    assert re.findall(r"Fixed (\d) findings? in .*([ab])\.yaml", result.stderr) == [("2", "a"), ("1", "b")]
    assert "All checks passed (2 files)." in result.stdout


def _findings(text: str) -> dict:
    """The rules' findings on ``text`` by code, as the fix engine gets them (with their suggestion records)."""
    pairs = located(modelspec.load_spec(text), DEFAULT_CONFIG)
    return {diagnostic.code: finding for diagnostic, finding in pairs if finding is not None}


@pytest.mark.parametrize(
    "training",
    [
        # binary cross-entropy on a softmax output: sigmoid (multi-label) or categorical_crossentropy (one class)
        "{optimizer: adam, loss: binary_crossentropy}",
        # from_logits on a softmax output: remove the softmax, or set from_logits: false
        "{optimizer: adam, loss: {type: categorical_crossentropy, from_logits: true}}",
        # a monitor Keras never logs and nothing near it: one of the logged quantities
        "{optimizer: adam, loss: categorical_crossentropy, early_stopping: {monitor: zzz}}",
    ],
)
def test_a_hint_that_leaves_a_choice_is_not_fixed(training):
    text = HEAD.replace("layers:\n", f"training: {training}\nlayers:\n") + OUT.replace("10", "3")
    before = _findings(text)
    result = fix(text, unsafe=True)
    assert result.text == text and not result.applied
    assert [skip.reason for skip in result.skipped] == ["the hint offers a choice: fix it by hand"], before
    assert not any(finding.suggests for finding in before.values())


def test_a_hint_that_names_one_edit_carries_it_as_a_record():
    text = HEAD.replace("layers:\n", "training: {optimizer: adam, loss: categorical_crossentropy}\nlayers:\n")
    text += "  - {type: dense, units: 1, activation: softmax}\n"
    assert _findings(text)["MS302"].suggests == Suggestion(activation="sigmoid", loss="binary_crossentropy")
    assert "binary_crossentropy" in fix(text, unsafe=True).text


def test_public_api():
    result = modelspec.fix(BROKEN.read_text(encoding="utf-8"), path=BROKEN)
    assert isinstance(result, modelspec.FixResult)
    assert {one.applicability for one in result.applied} == {SAFE}
    assert all(isinstance(one.path, tuple) and one.description for one in result.applied)


def test_readme_shows_the_diff_that_lint_prints(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("$ modelspec lint broken.yaml --diff\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    Path("broken.yaml").write_bytes(BROKEN.read_bytes())
    result = invoke("broken.yaml", "--diff")
    printed = result.stdout + result.stderr
    assert [line.rstrip() for line in printed.splitlines()] == [line.rstrip() for line in shown.splitlines()]


# --- styles the reader accepts: each edit in the style around it -------------------------------------------------

HEAD = "modelspec: 1\nname: x\nseed: 1\ninput: {shape: [16]}\nlayers:\n"
OUT = "  - {type: dense, units: 10, activation: softmax}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(  # Windows line ends: an added line ends as the others do
            HEAD.replace("\n", "\r\n") + "  - type: dense\r\n    units: 32\r\n  - {type: batch_norm}\r\n" + OUT,
            HEAD.replace("\n", "\r\n")
            + "  - type: dense\r\n    units: 32\r\n    use_bias: false\r\n  - {type: batch_norm}\r\n"
            + OUT,
            id="crlf",
        ),
        pytest.param(  # a value on the line after its key
            HEAD + "  - type: dense\n    units: 32\n    activation: relu\n    kernel_initializer:\n      zeros\n" + OUT,
            HEAD + "  - type: dense\n    units: 32\n    activation: relu\n    kernel_initializer:\n      auto\n" + OUT,
            id="value-on-next-line",
        ),
        pytest.param(  # quoted keys and a double-quoted value
            HEAD + '  - {"type": dense, "units": 32, "activation": relu, "kernel_initializer": "zeros"}\n' + OUT,
            HEAD + '  - {"type": dense, "units": 32, "activation": relu, "kernel_initializer": "auto"}\n' + OUT,
            id="quoted",
        ),
        pytest.param(  # a block mapping that ends in a nested one, then a blank line and a comment
            HEAD + "  - type: dense\n    units: 32\n    kernel_initializer:\n      type: glorot_uniform\n\n"
            "    # the next layer\n  - {type: batch_norm}\n" + OUT,
            HEAD + "  - type: dense\n    units: 32\n    kernel_initializer:\n      type: glorot_uniform\n"
            "    use_bias: false\n\n    # the next layer\n  - {type: batch_norm}\n" + OUT,
            id="nested-then-comment",
        ),
        pytest.param(  # list items at the key's indentation
            HEAD + "- type: dense\n  units: 32\n- type: batch_norm\n- {type: dense, units: 10, activation: softmax}\n",
            HEAD + "- type: dense\n  units: 32\n  use_bias: false\n- type: batch_norm\n"
            "- {type: dense, units: 10, activation: softmax}\n",
            id="unindented-list",
        ),
        pytest.param(  # no `name:`: the seed goes after `modelspec:`; document markers stay
            "---\nmodelspec: 1\ninput: {shape: [16]}\nlayers:\n" + OUT + "...\n",
            "---\nmodelspec: 1\nseed: 42\ninput: {shape: [16]}\nlayers:\n" + OUT + "...\n",
            id="markers-no-name",
        ),
        pytest.param(  # `defaults:` is shared (the output uses it too): the flagged layers get their own key
            HEAD.replace("layers:\n", "defaults:\n  kernel_initializer: glorot_uniform   # for the softmax\nlayers:\n")
            + "  - {type: dense, units: 32, activation: relu}\n"
            + OUT,
            HEAD.replace("layers:\n", "defaults:\n  kernel_initializer: glorot_uniform   # for the softmax\nlayers:\n")
            + "  - {type: dense, units: 32, activation: relu, kernel_initializer: he_normal}\n"
            + OUT,
            id="defaults",
        ),
        pytest.param(  # an anchored value may be repeated by an alias: not edited
            HEAD + "  - &h {type: dense, units: 32, activation: relu, kernel_initializer: zeros}\n  - *h\n" + OUT,
            None,
            id="anchor",
        ),
    ],
)
def test_each_style_is_edited_in_place(text, expected):
    result = fix(text)
    assert result.text == (text if expected is None else expected)
    if expected is None:
        assert result.skipped and any("anchor" in skip.reason for skip in result.skipped)
    assert fix(result.text).text == result.text


def test_a_file_named_twice_is_fixed_once(broken):
    result = invoke(broken, broken, "--fix")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Fixed 6 findings") == 1
    assert "All checks passed (1 file)." in result.stdout


def test_writing_keeps_the_mode_a_link_and_a_byte_order_mark(tmp_path):
    target = tmp_path / "real.yaml"
    target.write_bytes(b"\xef\xbb\xbf" + BROKEN.read_bytes())
    target.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    write(fix_file(link))
    assert link.is_symlink() and (target.stat().st_mode & 0o777) == 0o640
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert target.read_bytes()[3:].decode() == fix(BROKEN.read_text(encoding="utf-8")).text
