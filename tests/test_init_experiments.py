"""examples/init_experiments, small: each experiment trains a few epochs, and every result goes the way the field
found it (and the README reports): zeros and unit-scale kernels stay at chance while Glorot, He and `auto` learn,
softmax regression learns from zeros, ones with tanh and MSE stay at chance, and a 30-layer ReLU MLP learns with He
and not with Glorot. The linter flags (warnings or errors) exactly the variants that stay at chance, and the probe
shows why at initialisation."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modelspec import probe
from modelspec.loader import load_spec
from modelspec.variants import variants
from tests.conftest import load_script

pytestmark = pytest.mark.tensorflow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "init_experiments"
EPOCHS = {"mlp": 2, "softmax_regression": 1, "tanh_ones": 2, "deep_relu": 4}
STUCK, LEARNING = 0.3, 0.4  # best validation accuracy of ten classes: near chance (0.1), or clearly learning


@pytest.fixture(scope="module")
def example():
    yield load_script("init_experiments_run", EXAMPLE / "run.py")
    del sys.modules["init_experiments_run"]


def _best(experiment, result) -> dict[str, float]:
    return {v["label"]: v["summary"][experiment.accuracy]["best"] for v in result["variants"]}


def test_each_result_goes_the_way_the_linter_predicts(example, tmp_path):
    example.write_onehot(tmp_path)
    outcomes = {}
    for experiment in example.EXPERIMENTS:
        if experiment.name == "mlp":  # he_normal is what `auto` picks for these ReLU layers: train it once
            experiment = dataclasses.replace(experiment, vary=experiment.vary.replace(",he_normal", ""))
        result = example.run(experiment, tmp_path, EPOCHS[experiment.name], 1, plots=False)
        best = _best(experiment, result)
        outcomes[experiment.name] = best
        for row in example.verdicts(experiment, result):
            stuck = best[row["variant"]] < STUCK
            assert stuck or best[row["variant"]] > LEARNING, (experiment.name, row)
            assert bool(row["lint"]) == stuck, (experiment.name, row)  # flagged exactly when it stays at chance
            assert row["claim_holds"] is None  # the README's claims are about 15 epochs: a short run is not judged
    mlp = outcomes["mlp"]
    stuck = [label for label, value in mlp.items() if value < STUCK]
    assert [label.split("=", 1)[1].split(",")[0] for label in stuck] == [
        "zeros",
        "{type: random_normal",
        "{type: random_uniform",
    ]
    assert mlp["kernel_initializer=auto"] > 0.8 and mlp["kernel_initializer=glorot_uniform"] > 0.8
    assert outcomes["softmax_regression"]["layers.digit.kernel_initializer=zeros"] > 0.8  # one layer: zeros train
    tanh = list(outcomes["tanh_ones"].values())
    assert tanh[0] < STUCK and tanh[1] > 0.8
    deep = outcomes["deep_relu"]
    assert deep["kernel_initializer=glorot_uniform"] < STUCK < LEARNING < deep["kernel_initializer=he_normal"]


def test_the_probe_shows_why_at_initialisation():
    mlp = variants(load_spec(EXAMPLE / "mlp.yaml"), ["kernel_initializer=zeros"])[0]
    hidden1 = probe(mlp.model).layers[1]
    assert hidden1.dead == 1.0 and any(flag.startswith("no gradient") for flag in hidden1.flags)
    tanh = probe(EXAMPLE / "tanh_ones.yaml")
    hidden2 = next(layer for layer in tanh.layers if layer.name == "hidden2")
    assert hidden2.saturated > 0.9 and any(flag.startswith("saturated") for flag in hidden2.flags)
    glorot, he = (
        v.model
        for v in variants(load_spec(EXAMPLE / "deep_relu.yaml"), ["kernel_initializer=glorot_uniform,he_normal"])
    )
    vanishing = [layer.name for layer in probe(glorot).layers if any("vanishing activations" in f for f in layer.flags)]
    assert "hidden29" in vanishing and "hidden1" not in vanishing
    assert not any(layer.flags for layer in probe(he).layers)


def _reference(experiment) -> dict:
    return json.loads((EXAMPLE / "results" / f"{experiment.name}.json").read_text(encoding="utf-8"))


# A row of the README's results table: | experiment | variant | linter | probe | first loss | best | epochs to 0.9 |
README_ROW = re.compile(r"^\| (\w+) \|(?: [^|]* \|){4} ([0-9.]+) \| (\w+) \|$", re.MULTILINE)


def test_the_claims_the_script_checks_are_the_readmes_table(example):
    rows = README_ROW.findall((EXAMPLE / "README.md").read_text(encoding="utf-8"))
    claims = [
        (name, f"{claim.best:.3f}", str(claim.reached or "never"))
        for name, variants in example.CLAIMS.items()
        for claim in variants.values()
    ]
    assert rows == claims


def test_the_reference_run_is_what_the_readme_claims(example):
    for experiment in example.EXPERIMENTS:
        rows = example.verdicts(experiment, _reference(experiment))
        assert [row["claim_holds"] for row in rows] == [True] * len(rows), experiment.name
        assert all(row["agree"] for row in rows)
        for row in rows:  # on the machine that made results/, the numbers are the README's too
            assert round(row["best_accuracy"], 3) == row["claim"].best, row


def test_a_clean_variant_that_misses_0_9_is_not_as_the_readme_says(example):
    # On another CPU, He on the 30-layer net got 0.894 after 15 epochs: it trains (so the linter "agrees"), but the
    # README says every clean variant passed 0.9, and that claim is what is judged.
    deep = next(experiment for experiment in example.EXPERIMENTS if experiment.name == "deep_relu")
    result = _reference(deep)
    he = next(variant for variant in result["variants"] if variant["label"].endswith("he_normal"))
    he["summary"]["val_accuracy"]["best"], he["summary"]["epochs_to_reach"] = 0.894, [None]
    row = next(row for row in example.verdicts(deep, result) if row["variant"].endswith("he_normal"))
    assert row["agree"] and row["claim_holds"] is False
    assert "| reaches 0.9 | **no** |" in example.markdown(deep, [row])


def test_the_script_writes_outside_the_tracked_files_by_default(example):
    default = EXAMPLE / "output" / "mlp.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(default)], cwd=EXAMPLE, check=False)
    assert ignored.returncode == 0, "run.py's default output folder is not ignored by git"
    assert 'default=HERE / "output"' in (EXAMPLE / "run.py").read_text(encoding="utf-8")
