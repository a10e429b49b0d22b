"""Which process of a cluster this is, read from TF_CONFIG or Slurm before TensorFlow starts (no TensorFlow here):
who is the chief (the one process that writes), and what each kind of bad cluster description says."""

from __future__ import annotations

import json

import pytest

from modelspec.cluster import Role, role
from modelspec.errors import SettingsError
from modelspec.schema.distribute import Distribute

MULTI = Distribute(strategy="multi_worker_mirrored")
HOSTS = ["a:1", "b:1", "c:1"]


def _tf_config(cluster: dict, kind: str, index: int) -> dict:
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


@pytest.mark.parametrize(
    ("cluster", "kind", "index", "expected"),
    [
        ({"worker": HOSTS}, "worker", 0, Role(chief=True, worker=0, workers=3)),
        ({"worker": HOSTS}, "worker", 2, Role(chief=False, worker=2, workers=3)),
        ({"chief": ["z:1"], "worker": HOSTS}, "chief", 0, Role(chief=True, worker=0, workers=4)),
        ({"chief": ["z:1"], "worker": HOSTS}, "worker", 0, Role(chief=False, worker=1, workers=4)),
    ],
)
def test_the_chief_is_the_chief_task_else_worker_0(cluster, kind, index, expected):
    assert role(MULTI, _tf_config(cluster, kind, index)) == expected


def test_without_multi_worker_every_process_is_its_own_chief():
    environ = _tf_config({"worker": HOSTS}, "worker", 1)
    assert role(None, environ) == Role() == role(Distribute(strategy="mirrored"), environ)


def test_a_slurm_job_step_with_several_tasks_is_a_cluster_whose_task_0_is_the_chief():
    assert role(MULTI, {"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4"}) == Role(chief=False, worker=1, workers=4)
    assert role(MULTI, {"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2"}).chief


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, r"multi_worker_mirrored needs a cluster: set the TF_CONFIG .* \(received: no TF_CONFIG\)"),
        ({"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"}, "needs a cluster"),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "2"}, "needs a cluster"),  # a job, but not a step: no srun
        ({"TF_CONFIG": "{not json"}, r"TF_CONFIG is not a cluster description: .* \(received: '\{not json'\)"),
        ({"TF_CONFIG": json.dumps({"cluster": {"worker": HOSTS}})}, "TF_CONFIG is not a cluster description"),
        (_tf_config({"worker": HOSTS, "ps": ["p:1"]}, "worker", 0), "parameter-server training .* not supported"),
        (_tf_config({"worker": HOSTS, "evaluator": ["e:1"]}, "evaluator", 0), "task type 'evaluator'"),
        (_tf_config({"worker": HOSTS}, "worker", 3), "task index 3 is not in the cluster's 3 worker tasks"),
    ],
)
def test_a_missing_or_unusable_cluster_is_a_settings_error(environ, message):
    with pytest.raises(SettingsError, match=message):
        role(MULTI, environ)
