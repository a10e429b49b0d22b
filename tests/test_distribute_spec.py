"""The `training.distribute:` block as a spec and a command-line option, without TensorFlow: its spellings, its
errors (golden text, with line:col), the JSON Schema beside it, the `--distribute` override, and lint's purity.
The distributed runs themselves are in the other tests/test_distribute*.py files."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from modelspec import SpecError, lint, load_spec
from modelspec.cli import cli
from modelspec.errors import SettingsError
from modelspec.schema.distribute import Distribute, device_key, with_strategy

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = Draft202012Validator(json.loads((ROOT / "modelspec.schema.json").read_text(encoding="utf-8")))

HEAD = """\
modelspec: 1
name: toy
seed: 1
input: {shape: [6]}
layers:
  - {type: dense, units: 3, activation: softmax}
"""
TRAINING = "training:\n  optimizer: adam\n  loss: categorical_crossentropy\n"


def _text(distribute: str) -> str:
    """A spec whose training block ends with ``  distribute: <distribute>`` (line 11)."""
    return HEAD + TRAINING + "  batch_size: 32\n  distribute: " + distribute + "\n"


def _block(distribute: str):
    return load_spec(_text(distribute)).spec.training.distribute


@pytest.mark.parametrize(
    ("written", "strategy"),
    [
        ("mirrored", "mirrored"),
        ("MirroredStrategy", "mirrored"),
        ("multi_worker_mirrored", "multi_worker_mirrored"),
        ("MultiWorkerMirroredStrategy", "multi_worker_mirrored"),
        ("{strategy: MIRRORED}", "mirrored"),
    ],
)
def test_a_strategy_name_alone_stands_for_the_block_with_its_defaults(written, strategy):
    block = _block(written)
    assert block == Distribute(strategy=strategy)
    assert (block.devices, block.communication) == (None, "auto")


def test_a_device_list_fixes_the_replica_count_and_nothing_else_does():
    assert _block("{strategy: mirrored, devices: [/cpu:0, /cpu:1, /device:GPU:0, gpu:1]}").replicas == 4
    assert _block("mirrored").replicas is None  # every local GPU: the machine decides
    assert _block("{strategy: multi_worker_mirrored, communication: ring}").replicas is None  # TF_CONFIG decides
    assert device_key("/gpu:0") == device_key("/device:GPU:0") == device_key("GPU:0") == "/device:GPU:0"


def test_no_block_is_none():
    assert load_spec(HEAD + TRAINING).spec.training.distribute is None


WRONG = {
    "devices on a cluster": (
        "{strategy: multi_worker_mirrored, devices: [/gpu:0]}",
        "11:49: error[MS001] training.distribute.devices: multi_worker_mirrored takes no device list: every "
        "worker trains on all of its own GPUs (else its CPU) and TF_CONFIG says which machines are workers; "
        "remove `devices` or use mirrored (received: devices [/gpu:0])",
    ),
    "communication on one machine": (
        "{strategy: mirrored, communication: nccl}",
        "11:36: error[MS001] training.distribute.communication: communication applies to multi_worker_mirrored "
        "only: mirrored picks its own way to combine gradients (NCCL between GPUs); remove it (received: "
        "communication nccl)",
    ),
    "a device twice": (
        "{strategy: mirrored, devices: [/gpu:0, /device:GPU:0]}",
        "11:36: error[MS001] training.distribute.devices: each device may be listed once (received twice: "
        "/device:GPU:0, /gpu:0)",
    ),
    "not a device": (
        "{strategy: mirrored, devices: [/cpu:0, /tpu:0]}",
        "11:54: error[MS001] training.distribute.devices[1]: must be a device of this machine, /cpu:N or /gpu:N "
        "such as /cpu:0 or /gpu:1 (received: '/tpu:0')",
    ),
    "no devices": (
        "{strategy: mirrored, devices: []}",
        "11:36: error[MS001] training.distribute.devices: must have at least 1 item(s) (received: [])",
    ),
    "a misspelt strategy": (
        "mirored",
        "11:3: error[MS001] training.distribute: unknown distribution strategy 'mirored'; did you mean 'mirrored'?",
    ),
    "parameter-server training": (
        "parameter_server",
        "11:3: error[MS001] training.distribute: unknown distribution strategy 'parameter_server' (expected one "
        "of: mirrored, multi_worker_mirrored)",
    ),
    "a number": (
        "2",
        "11:3: error[MS001] training.distribute: must be a strategy name (mirrored, multi_worker_mirrored) or a "
        "mapping with `strategy:` (received: 2)",
    ),
    "no strategy": (
        "{devices: [/gpu:0]}",
        "11:3: error[MS001] training.distribute.strategy: missing required field 'strategy'",
    ),
    "an unknown option": (
        "{strategy: mirrored, gpus: 2}",
        "11:36: error[MS001] training.distribute.gpus: unknown field 'gpus'",
    ),
}


@pytest.mark.parametrize(("written", "expected"), WRONG.values(), ids=WRONG.keys())
def test_each_mistake_is_one_located_error(written, expected):
    with pytest.raises(SpecError) as raised:
        load_spec(_text(written))
    assert [d.format().removeprefix("<string>:") for d in raised.value.diagnostics] == [expected]


def test_a_training_block_with_only_distribute_needs_its_optimizer_and_loss():
    with pytest.raises(SpecError) as raised:
        load_spec(HEAD + "training:\n  distribute: mirrored\n")
    assert [d.format().removeprefix("<string>:") for d in raised.value.diagnostics] == [
        "7:1: error[MS001] training.optimizer: missing required field 'optimizer'",
        "7:1: error[MS001] training.loss: missing required field 'loss'",
    ]


# --- the JSON Schema (editors) ------------------------------------------------------------------------------------


def _schema_errors(text: str) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(text))]


@pytest.mark.parametrize(
    "written",
    [
        "mirrored",
        "MirroredStrategy",
        "MULTI_WORKER_MIRRORED",
        "{strategy: mirrored, devices: [/cpu:0, /CPU:1, /device:GPU:2, gpu:3]}",
        "{strategy: MultiWorkerMirroredStrategy, communication: ring}",
    ],
)
def test_the_schema_accepts_every_spelling_modelspec_accepts(written):
    load_spec(_text(written))
    assert _schema_errors(_text(written)) == []


@pytest.mark.parametrize(
    "name",
    ["a misspelt strategy", "parameter-server training", "not a device", "no devices", "a number", "an unknown option"],
)
def test_the_schema_refuses_what_is_plainly_wrong(name):
    assert _schema_errors(_text(WRONG[name][0]))


def test_the_schema_takes_the_top_level_block_that_lint_reports():
    text = HEAD + "distribute: mirrored\n"
    assert _schema_errors(text) == []
    assert [f"{d.line}:{d.column} {d.code}" for d in lint(text)] == ["7:1 MS311"]


# --- the --distribute override -------------------------------------------------------------------------------------

TWO_CPUS = Distribute(strategy="mirrored", devices=["/cpu:0", "/cpu:1"])


def test_without_the_option_the_spec_decides():
    assert with_strategy(TWO_CPUS, None) is TWO_CPUS
    assert with_strategy(None, None) is None


def test_none_turns_distribution_off():
    assert with_strategy(TWO_CPUS, "none") is None
    assert with_strategy(None, "NONE") is None


def test_the_same_strategy_keeps_the_specs_devices_another_starts_from_its_defaults():
    assert with_strategy(TWO_CPUS, "mirrored") is TWO_CPUS
    assert with_strategy(TWO_CPUS, "multi_worker_mirrored") == Distribute(strategy="multi_worker_mirrored")
    assert with_strategy(None, "MirroredStrategy") == Distribute(strategy="mirrored")


def test_an_unknown_strategy_is_a_settings_error_with_a_suggestion():
    with pytest.raises(SettingsError, match=r"unknown distribution strategy 'mirored'; did you mean 'mirrored'\?"):
        with_strategy(None, "mirored")


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_the_option_is_documented_and_checked(command, tmp_path):
    assert "--distribute [none|mirrored|multi_worker_mirrored]" in _run(command, "--help").output
    spec = tmp_path / "toy.yaml"
    spec.write_text(HEAD + TRAINING, encoding="utf-8")
    result = _run(command, spec, "--data", "digits", "--distribute", "parameter_server")
    assert result.exit_code == 2
    assert "Invalid value for '--distribute'" in result.output


def test_a_top_level_block_stops_train_before_anything_runs(tmp_path):
    spec = tmp_path / "toy.yaml"
    spec.write_text(HEAD + TRAINING + "distribute: mirrored\n", encoding="utf-8")
    result = _run("train", spec, "--data", "digits", "-o", tmp_path / "toy.keras")
    assert result.exit_code == 1, result.output
    assert "toy.yaml:10:1: error[MS311] `distribute` sits at the top level" in result.output
    assert not (tmp_path / "toy.keras").exists()


# --- lint stays pure -----------------------------------------------------------------------------------------------


def test_lint_does_not_read_the_cluster_from_the_environment(monkeypatch):
    """Three workers in TF_CONFIG do not divide a batch of 64, but lint gives the same answer on every machine: the
    count of a cluster is known only once the run starts (docs/distributed.md)."""
    text = _text("multi_worker_mirrored").replace("batch_size: 32", "batch_size: 64")
    before = [d.format() for d in lint(text)]
    cluster = {"cluster": {"worker": ["a:1", "b:1", "c:1"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    assert [d.format() for d in lint(text)] == before
    assert [d.code for d in lint(text)] == ["MS310"]  # the rate hint, for at least 2 workers; no MS309


# --- docs/distributed.md: its examples are what modelspec accepts ----------------------------------------------------

DOC = (ROOT / "docs" / "distributed.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    """The code blocks in ``language``, dedented (a block inside a list item is indented)."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^ *```", DOC, flags=re.DOTALL | re.MULTILINE)
    return [textwrap.dedent(block) for _, block in found]


def test_the_docs_training_blocks_are_valid_specs():
    blocks = [block for block in _blocks("yaml") if block.startswith("training:")]
    assert len(blocks) == 2
    for block in blocks:
        text = HEAD.replace("units: 3, activation: softmax", "units: 10, activation: softmax") + block
        text += "  loss: sparse_categorical_crossentropy\n" if "loss:" not in block else ""
        codes = {d.code for d in lint(text)}
        assert not codes & {"MS309", "MS310", "MS311"}, (block, codes)


def test_the_docs_tfjob_runs_modelspec_where_the_operator_sets_tf_config():
    (manifest,) = [yaml.safe_load(block) for block in _blocks("yaml") if "kind: TFJob" in block]
    worker = manifest["spec"]["tfReplicaSpecs"]["Worker"]
    (container,) = worker["template"]["spec"]["containers"]
    assert (manifest["apiVersion"], container["name"], worker["replicas"]) == ("kubeflow.org/v1", "tensorflow", 2)
    command = " ".join(container["args"])
    assert "modelspec train" in command and "--distribute multi_worker_mirrored" in command and "--resume" in command


def test_the_docs_tf_config_makes_worker_0_the_chief():
    from modelspec.cluster import role

    configs = re.findall(r"export TF_CONFIG='([^']*)'", DOC)
    assert len(configs) == 2
    roles = [role(Distribute(strategy="multi_worker_mirrored"), {"TF_CONFIG": config}) for config in configs]
    assert [(r.chief, r.worker, r.workers) for r in roles] == [(True, 0, 2), (False, 1, 2)]
