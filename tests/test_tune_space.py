"""`modelspec tune` without TensorFlow: the search space parser, the plan's checks, the lint pre-flight."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from modelspec.cli import cli
from modelspec.errors import SettingsError
from modelspec.requests import Data, Engine, Search, TuneRequest
from modelspec.tuning.plan import resolve_tune
from modelspec.tuning.space import parse_search
from modelspec.tuning.trial import preflight
from tests.conftest import ROOT

DIGITS = ROOT / "specs" / "digits_mlp.yaml"
LR = "training.optimizer.learning_rate=loguniform(1e-4,1e-1)"
INIT = "kernel_initializer=choice(zeros,auto)"


@pytest.mark.parametrize(
    ("option", "kind", "expected"),
    [
        ("training.optimizer.learning_rate=loguniform(1e-4, 1e-1)", "loguniform", (1e-4, 1e-1, True)),
        ("layers.0.rate=uniform(0, 0.5)", "uniform", (0.0, 0.5, False)),
        ("layers.hidden.units=int(16, 512, log)", "int", (16, 512, True)),
        ("layers.hidden.units=int(16,64)", "int", (16, 64, False)),
    ],
)
def test_bounded_distributions(option, kind, expected):
    search = parse_search(option)
    distribution = search.distribution
    assert distribution.kind == kind
    assert (distribution.low, distribution.high, distribution.log) == expected


def test_choice_keeps_yaml_values_and_maps_labels_back():
    search = parse_search("kernel_initializer=choice(zeros, he_normal, {type: random_normal, stddev: 0.05})")
    assert search.path == ("defaults", "kernel_initializer")  # a `defaults:` field alone, as compare --vary
    assert search.distribution.labels == ("zeros", "he_normal", "{type: random_normal, stddev: 0.05}")
    assert search.value("{type: random_normal, stddev: 0.05}") == {"type": "random_normal", "stddev": 0.05}
    assert search.distribution.grid() == list(search.distribution.labels)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("lr", "--search 'lr': give PATH=DISTRIBUTION, e.g. training.optimizer.learning_rate=loguniform(1e-4, 1e-1)"),
        ("a..b=uniform(0,1)", "--search 'a..b=uniform(0,1)': the path 'a..b' has an empty part between dots"),
        ("x=loguniform(1e-4)", "--search 'x=loguniform(1e-4)': loguniform takes two bounds: loguniform(LOW, HIGH) "
         "(received: 1 arguments)"),
        ("x=loguniform(0, 1)", "--search 'x=loguniform(0, 1)': a log scale needs LOW above 0 (received: 0)"),
        ("x=uniform(2, 1)", "--search 'x=uniform(2, 1)': uniform(LOW, HIGH) needs LOW < HIGH (received: 2, 1)"),
        ("x=int(1.5, 4)", "--search 'x=int(1.5, 4)': int(...) takes an integer for each bound (received: 1.5)"),
        ("x=int(1, 4, lin)", "--search 'x=int(1, 4, lin)': the third argument of int(...) can only be `log` "
         "(received: lin)"),
        ("x=uniform(a, 1)", "--search 'x=uniform(a, 1)': uniform(...) takes a finite number for each bound "
         "(received: a)"),
        ("x=choice()", "--search 'x=choice()': choice(...) needs at least one value"),
        ("x=choice(zeros, zeros)", "--search 'x=choice(zeros, zeros)': choice(...) lists zeros more than once"),
        ("x=logunifrom(1, 2)", "--search 'x=logunifrom(1, 2)': unknown distribution 'logunifrom' (use one of "
         "loguniform, uniform, int, choice); did you mean 'loguniform'?"),
        ("x=0.1", "--search 'x=0.1': the distribution must be one of loguniform(1e-4, 1e-1), uniform(0, 0.5), "
         "int(16, 512, log) or choice(zeros, he_normal) (received: '0.1')"),
    ],
)  # fmt: skip
def test_malformed_search_says_what_and_where(option, message):
    with pytest.raises(SettingsError) as caught:
        parse_search(option)
    assert str(caught.value) == message


def _request(*space, **search) -> TuneRequest:
    return TuneRequest(DIGITS, Data("digits"), Search(tuple(space), **search))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (_request("layers.nope.units=int(8, 16)"), "--search layers.nope.units: the spec has no layer 'nope'"),
        (_request("training.optimizer.learnin_rate=uniform(0.1, 0.2)"), "no value of it makes a valid spec"),
        (_request(LR, sampler="grid"), "--sampler grid needs choice(...) or int(...) distributions"),
        (_request(LR, metric="val_auc"), "--metric val_auc: a trial never logs it; it logs loss, accuracy"),
        (_request(LR, trials=0), "--trials must be between 1 and 100000 (received: 0)"),
        (_request(LR, sampler="cmaes"), "--sampler must be one of tpe, random, grid (received: 'cmaes')"),
    ],
)
def test_plan_refuses_before_anything_trains(request_, message):
    with pytest.raises(SettingsError, match=None) as caught:
        resolve_tune(request_)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        (Engine(workers=2), "--workers is for --engine ray"),
        (Engine(storage="redis://localhost"), "--storage takes a database URL (sqlite:///study.db"),
        (Engine(storage="sqlite:////no/such/folder/s.db"), "folder '/no/such/folder' does not exist"),
        (Engine(name="ray", storage="sqlite:///s.db"), "--storage is for --engine optuna"),
    ],
)
def test_engine_settings_are_checked(engine, message):
    request = TuneRequest(DIGITS, Data("digits"), Search((LR,)), engine)
    with pytest.raises(SettingsError) as caught:
        resolve_tune(request)
    assert message in str(caught.value)


def test_plan_defaults_metric_direction_study_and_seed():
    plan = resolve_tune(_request(LR, INIT, metric="val_accuracy"))
    assert (plan.metric, plan.direction, plan.engine.study, plan.seed) == ("val_accuracy", "max", "digits_mlp", 42)
    assert plan.trial_seed(7) == 49
    plan = resolve_tune(_request(LR))
    assert (plan.metric, plan.direction) == ("val_loss", "min")  # the spec holds out a validation split


def test_preflight_refuses_zeros_on_hidden_weights_without_tensorflow():
    code = f"""
import sys, json
from modelspec.requests import Data, Search, TuneRequest
from modelspec.tuning.plan import resolve_tune
from modelspec.tuning.trial import preflight
plan = resolve_tune(TuneRequest({str(DIGITS)!r}, Data("digits"), Search(({LR!r}, {INIT!r}))))
zeros = preflight(plan, 3, {{"training.optimizer.learning_rate": 0.001, "kernel_initializer": "zeros"}})
auto = preflight(plan, 4, {{"training.optimizer.learning_rate": 0.001, "kernel_initializer": "auto"}})
print(json.dumps([zeros.refused_by, [f.code for f in zeros.findings], zeros.seed, auto.refused_by, zeros.seconds,
                  any(name.split(".")[0] in ("tensorflow", "keras") for name in sys.modules)]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    refused_by, codes, seed, passed, seconds, tensorflow = json.loads(done.stdout)
    assert (refused_by, codes, seed, passed, tensorflow) == ("lint", ["MS101"], 45, None, False)
    assert seconds < 1.0


def test_lint_prune_warning_refuses_warnings_too():
    plan = resolve_tune(_request("training.optimizer.learning_rate=loguniform(0.05, 0.5)", lint_prune="warning"))
    checked = preflight(plan, 0, {"training.optimizer.learning_rate": 0.2})
    assert checked.refused_by == "lint" and [f.code for f in checked.findings] == ["MS303"]
    plan = resolve_tune(_request("training.optimizer.learning_rate=loguniform(0.05, 0.5)"))
    assert preflight(plan, 0, {"training.optimizer.learning_rate": 0.2}).refused_by is None


def test_an_invalid_trial_is_refused_with_its_diagnostics():
    plan = resolve_tune(_request("layers.hidden.units=int(0, 4)"))
    checked = preflight(plan, 0, {"layers.hidden.units": 0})
    assert checked.refused_by == "invalid" and checked.findings[0].code == "MS001"
    assert checked.findings[0].path.endswith("digits_mlp.yaml")


def test_cli_usage_errors_exit_2_with_one_line():
    runner = CliRunner()
    result = runner.invoke(cli, ["tune", str(DIGITS), "--data", "digits", "--search", "x=loguniform(1)"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --search 'x=loguniform(1)': loguniform takes two bounds: loguniform(LOW, HIGH) (received: 1 arguments)"
    ]
    result = runner.invoke(cli, ["tune", "--help"])
    assert result.exit_code == 0 and "Exit codes: 0 clean; 2 invalid spec" in result.output


def test_a_study_of_refused_trials_runs_on_a_journal_file_without_tensorflow(tmp_path):
    pytest.importorskip("optuna")
    code = f"""
import sys, json
from modelspec.errors import SettingsError
from modelspec.requests import Data, Engine, Outputs, Search, TuneRequest
from modelspec.tuning.plan import resolve_tune
from modelspec.tuning.results import write_outputs
from modelspec.tuning.study import run_study
journal = "journal:" + {str(tmp_path / "study.log")!r}
zeros = Search(("kernel_initializer=choice(zeros, ones)", {LR!r}), trials=3, sampler="random")
outputs = Outputs(results={str(tmp_path / "r.json")!r}, best_spec={str(tmp_path / "best.yaml")!r})
result = run_study(resolve_tune(TuneRequest({str(DIGITS)!r}, Data("digits"), zeros, Engine(storage=journal),
                                            outputs=outputs)))
write_outputs(result)
again = run_study(resolve_tune(TuneRequest({str(DIGITS)!r}, Data("digits"), zeros, Engine(storage=journal))))
try:
    lr_only = TuneRequest({str(DIGITS)!r}, Data("digits"), Search(({LR!r},)), Engine(storage=journal))
    run_study(resolve_tune(lr_only))
    other = None
except SettingsError as exc:
    other = str(exc)
print(json.dumps([[t.state for t in result.trials], len(again.trials), result.best is None, other,
                  any(name.split(".")[0] in ("tensorflow", "keras") for name in sys.modules)]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    states, resumed, no_best, other, tensorflow = json.loads(done.stdout.strip().splitlines()[-1])
    assert states == ["refused"] * 3 and resumed == 3 and no_best and not tensorflow
    assert other.startswith("--study digits_mlp: the study in journal:") and "made by another search" in other
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"]["refused"] == 3 and document["best"] is None
    assert not (tmp_path / "best.yaml").exists()  # no trial completed: no best spec
