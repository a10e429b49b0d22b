"""The facts that schema classes carry for the linter: every optimizer has its usual learning rates, every loss
its kind, so a new optimizer or loss cannot slip past MS301-MS303 (or make MS303 fail on it)."""

from __future__ import annotations

import math
import re

import pytest

from modelspec import lint
from modelspec.linter import registry
from modelspec.schema.base import type_name
from modelspec.schema.training import LOSS_ALIASES, LOSS_KINDS, LOSSES, OPTIMIZER_MODELS, Loss, OptimizerBase


@pytest.mark.parametrize("model", OPTIMIZER_MODELS, ids=type_name)
def test_every_optimizer_states_its_usual_learning_rates(model):
    for fact in ("USUAL_LEARNING_RATES", "START_LEARNING_RATE"):
        assert hasattr(model, fact), f"{model.__name__} does not set {fact}"
    low, high = model.USUAL_LEARNING_RATES
    assert all(isinstance(v, float) and math.isfinite(v) for v in (low, high))
    assert 0 < low < high
    assert low <= model.START_LEARNING_RATE <= high
    assert low <= model.model_fields["learning_rate"].default <= high, "the default rate is outside the range"


def test_the_base_optimizer_sets_no_learning_rate_facts():
    """A subclass that forgets a fact fails the test above instead of inheriting a guess."""
    assert not hasattr(OptimizerBase, "USUAL_LEARNING_RATES") and not hasattr(OptimizerBase, "START_LEARNING_RATE")


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_has_a_kind_and_a_keras_class(name):
    facts = LOSSES[name]
    assert facts.kind in LOSS_KINDS
    assert facts.keras_class and facts.keras_class[0].isupper()
    assert facts.options <= {"from_logits", "label_smoothing", "delta"}
    loss = Loss.model_validate(name)
    assert (loss.kind, loss.keras_class) == (facts.kind, facts.keras_class)


@pytest.mark.parametrize("alias", list(LOSS_ALIASES))
def test_loss_aliases_name_a_known_loss(alias):
    assert LOSS_ALIASES[alias] in LOSSES
    assert Loss.model_validate(alias).kind == LOSSES[LOSS_ALIASES[alias]].kind


def _spec(optimizer: str, rate: float) -> str:
    return (
        "modelspec: 1\nseed: 1\ninput: {shape: [8]}\nlayers:\n  - {type: dense, units: 3, activation: softmax}\n"
        f"training:\n  optimizer: {{type: {optimizer}, learning_rate: {rate!r}}}\n"
        "  loss: categorical_crossentropy\n"
    )


@pytest.mark.parametrize("model", OPTIMIZER_MODELS, ids=type_name)
def test_ms303_reads_each_optimizers_range(model):
    low, high = model.USUAL_LEARNING_RATES
    name = type_name(model)
    assert [d.code for d in lint(_spec(name, low))] == []
    assert [d.code for d in lint(_spec(name, high))] == []
    above = [d for d in lint(_spec(name, high * 10)) if d.code == "MS303"]
    assert len(above) == 1 and f"start from {model.START_LEARNING_RATE:g}" in above[0].hint


def test_ms303_docs_state_each_optimizers_range():
    """The rule's docs spell the ranges out ("sgd and adagrad 1e-4 to 1, ..."); they must say what the schema says."""
    what = " ".join(registry.RULES["MS303"].docs.what.split())
    stated = {}
    ranges = re.findall(r"([a-z][a-z, ]*?) ([0-9.e-]*[0-9]) to ([0-9.e-]*[0-9])", what.split("optimizer:", 1)[1])
    assert ranges, what
    for names, low, high in ranges:
        for name in re.split(r", | and ", names.strip(", ")):
            stated[name] = (float(low), float(high))
    assert stated == {type_name(model): model.USUAL_LEARNING_RATES for model in OPTIMIZER_MODELS}
