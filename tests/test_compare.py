"""`modelspec compare` with real TensorFlow: every variant trains exactly as `modelspec train` trains it alone (same
seed, same data order), several seeds give mean and range, results and plot are written, and a variant that does not
fit the data stops everything before the first run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from modelspec import DataError, compare, train
from modelspec.cli import cli
from modelspec.requests import CompareRequest, Data, Options, Outputs
from modelspec.resolve import resolve_compare
from modelspec.variants import variants

pytestmark = pytest.mark.tensorflow

SPEC = {
    "modelspec": 1,
    "name": "toy",
    "seed": 5,
    "input": {"shape": [6]},
    "layers": [
        {"type": "dense", "name": "hidden", "units": 16, "activation": "relu"},
        {"type": "dropout", "rate": 0.25},
        {"type": "dense", "name": "out", "units": 3, "activation": "softmax", "kernel_initializer": "glorot_uniform"},
    ],
    "training": {
        "optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "batch_size": 16,
        "epochs": 3,
        "validation_split": 0.2,
    },
}
VARY = "kernel_initializer=zeros,he_normal"


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((240, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    spec = tmp_path / "toy.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    return spec, tmp_path / "data.npz"


def _scores(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_each_variant_trains_as_train_alone_and_the_linter_flags_the_bad_one(files):
    spec, data = files
    comparison = compare(spec, data, [VARY], Options(epochs=2))
    assert [v.label for v in comparison.variants] == ["kernel_initializer=zeros", "kernel_initializer=he_normal"]
    assert comparison.seeds == [5]
    from modelspec.loader import load_spec

    variant = variants(load_spec(spec), [VARY])[1]
    alone = train(variant.model, data, Options(epochs=2, seed=5, lint=False))
    assert _scores(comparison.variants[1].runs[0].rows) == _scores(alone.history.rows)  # same seed, same data order
    zeros, he = comparison.variants
    assert [f.code for f in zeros.findings] == ["MS101"] and he.findings == []
    assert zeros.final("loss") > 1.0 > he.final("loss") + 0.2  # dead hidden layer: only the output bias learns
    assert he.best("val_accuracy") > zeros.best("val_accuracy")


def test_seeds_results_plot_and_reach(files, tmp_path):
    spec, data = files
    comparison = compare(
        spec,
        data,
        ["training.optimizer.learning_rate=0.1"],
        Options(epochs=2, seed=11),
        Outputs(results=tmp_path / "results.json", plot=tmp_path / "curves.png"),
        seeds=2,
        reach="val_accuracy=0.5",
    )
    document = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert document["version"] == 1 and document["seeds"] == [11, 12] and document["epochs"] == 2
    assert document["reach"] == {"quantity": "val_accuracy", "value": 0.5}
    (fast,) = document["variants"]
    assert fast["settings"] == {"training.optimizer.learning_rate": 0.1}
    assert [run["seed"] for run in fast["runs"]] == [11, 12] and len(fast["runs"][0]["epochs"]) == 2
    losses = [run["epochs"][-1]["loss"] for run in fast["runs"]]
    assert fast["summary"]["loss"]["final"] == pytest.approx(sum(losses) / 2)
    assert fast["summary"]["epochs_to_reach"] == comparison.variants[0].reached(comparison.reach)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_table(files, tmp_path):
    spec, data = files
    result = CliRunner().invoke(
        cli,
        ["compare", str(spec), "--data", str(data), "--vary", VARY, "--epochs", "1", "-o", str(tmp_path / "r.json")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "kernel_initializer=zeros: error[MS101] hidden:" in result.output
    assert "[2/2] kernel_initializer=he_normal, seed 5:" in result.output
    table = result.output[result.output.index("toy on") :]
    assert "kernel_initializer" in table and "MS101" in table and "he_normal" in table
    assert f"Wrote {tmp_path / 'r.json'}" in result.output


def test_a_variant_that_does_not_fit_the_data_stops_before_any_training(files, tmp_path):
    spec, data = files
    request = CompareRequest(spec, Data(data), ("layers.out.units=3,2",), Options(epochs=1))  # 0..2 do not fit 2 units
    with pytest.raises(DataError, match="out"):
        resolve_compare(request)  # every variant is resolved (its data checked) before the first one trains
    with pytest.raises(DataError, match="out"):
        compare(spec, data, ["layers.out.units=3,2"], Options(epochs=1), Outputs(results=tmp_path / "r.json"))
    assert not (tmp_path / "r.json").exists()
    result = CliRunner().invoke(cli, ["compare", str(spec), "--data", str(data), "--vary", "layers.out.units=3,2"])
    assert result.exit_code == 2 and "error:" in result.output


def test_distribute_trains_every_variant_under_the_strategy_and_multi_worker_is_refused(files, tmp_path):
    """--distribute reaches every run: mirrored (here this machine's CPU, one replica) follows the runs without a
    strategy; multi_worker_mirrored, which TensorFlow starts once per process, is refused before any training."""
    spec, data = files
    plain = compare(spec, data, [VARY], Options(epochs=2))
    mirrored = compare(spec, data, [VARY], Options(epochs=2, distribute="mirrored"))
    for one, other in zip(plain.variants, mirrored.variants):
        for a, b in zip(_scores(one.runs[0].rows), _scores(other.runs[0].rows)):
            assert a.keys() == b.keys()
            assert all(abs(a[k] - b[k]) <= 1e-5 * max(1.0, abs(a[k])) for k in a)
    result = CliRunner().invoke(
        cli,
        ["compare", str(spec), "--data", str(data), "--vary", VARY, "--distribute", "multi_worker_mirrored",
         "-o", str(tmp_path / "r.json")],
    )  # fmt: skip
    assert result.exit_code == 2 and "multi_worker_mirrored starts its cluster once per process" in result.output
    assert not (tmp_path / "r.json").exists()
