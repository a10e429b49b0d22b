"""Tables fit where they are printed and cut nothing: in a terminal they take its width and fold the cells that do not
fit; in a pipe or a log each row stays one whole line (up to cli/common.py's WIDEST columns)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from modelspec import load_spec
from modelspec.cli import cli
from modelspec.cli.common import WIDEST, print_table
from modelspec.summary import summary_table

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG = "block_13_depthwise_relu_of_an_imported_model"  # names as long as an imported architecture's
SPEC = f"""\
modelspec: 1
name: mobilenetv2_1.00_224
input: {{shape: [224, 224, 3]}}
layers:
  - {{type: conv2d, name: {LONG}, filters: 384, kernel_size: 3, padding: same, activation: relu}}
  - {{type: depthwise_conv2d, name: {LONG}_2, kernel_size: 3, padding: same}}
  - {{type: global_average_pool2d}}
  - {{type: dense, units: 10, activation: softmax}}
"""


def as_terminal(monkeypatch, columns: int) -> None:
    """Make rich see a terminal of ``columns`` columns, without colour (rich's own environment variables)."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("NO_COLOR", "1")


def column(text: str, index: int) -> str:
    """The text of one column of a printed table, its folded pieces joined."""
    cells = [line.split("│")[index + 1].strip() for line in text.splitlines() if line.startswith("│")]
    return "".join(cells)


@pytest.mark.parametrize("columns", [80, 100, 138])
def test_in_a_terminal_the_summary_takes_its_width_and_folds_cells(tmp_path, monkeypatch, capsys, columns):
    as_terminal(monkeypatch, columns)
    print_table(summary_table(load_spec(SPEC).analysis))
    text = ANSI.sub("", capsys.readouterr().out)
    assert max(len(line) for line in text.splitlines()) <= columns
    assert "…" not in text  # nothing truncated
    assert f"{LONG}{LONG}_2" in column(text, 0)  # every name whole once its folded pieces are joined
    assert "(None,224,224,384)" in column(text, 2).replace(" ", "")
    assert all(header in text for header in ("Layer", "Type", "Params", "Activation"))  # headers never split


def test_in_a_pipe_every_row_of_the_summary_is_one_whole_line(capsys):
    print_table(summary_table(load_spec(SPEC).analysis))
    lines = capsys.readouterr().out.splitlines()
    assert "…" not in "\n".join(lines)
    row = next(line for line in lines if f"{LONG} " in line)
    assert "conv2d" in row and "(None, 224, 224, 384)" in row and "10,752" in row
    assert max(len(line) for line in lines) <= WIDEST


@pytest.mark.tensorflow
def test_the_plan_of_an_imported_model_fits_80_columns_and_cuts_nothing(tmp_path, monkeypatch):
    import numpy as np

    np.savez(
        tmp_path / "base.npz",
        **{f"{LONG}/kernel": np.ones((3, 3, 3, 384), "float32"), f"{LONG}/bias": np.zeros(384, "float32")},
    )
    (tmp_path / "spec.yaml").write_text(SPEC + "pretrained: {path: base.npz, freeze: true}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    as_terminal(monkeypatch, 80)
    text = ANSI.sub("", CliRunner().invoke(cli, ["build", "spec.yaml", "--plan"], catch_exceptions=False).output)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    assert column(text, 0).startswith(LONG)
    assert "frozen" in column(text, 5) and "Trainable" in text
    monkeypatch.delenv("TTY_COMPATIBLE")  # a pipe: each row one line
    text = CliRunner().invoke(cli, ["build", "spec.yaml", "--plan"], catch_exceptions=False).output
    assert any(LONG in line and "(3, 3, 3, 384)" in line and "frozen" in line for line in text.splitlines())


def test_the_summary_shows_the_activation_each_layer_applies():
    """The Activation column asks the schema (``applied_activation``), as lint and the probe do: a keras ReLU
    layer applies relu, a bidirectional LSTM its tanh; a layer with no activation of its own shows '-'."""
    model = load_spec(
        {
            "modelspec": 1,
            "name": "acts",
            "input": {"shape": [8, 4]},
            "layers": [
                {"type": "bidirectional", "layer": {"type": "lstm", "units": 3}},
                {"type": "keras", "class_name": "ReLU", "config": {}},
                {"type": "dropout", "rate": 0.1},
                {"type": "dense", "units": 2},
            ],
        }
    )
    table = summary_table(model.analysis)
    activations = list(table.columns[4].cells)
    assert activations == ["-", "tanh", "relu", "-", "linear"]
