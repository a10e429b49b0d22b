"""What a layer type is lives on its schema class; every per-type table covers every layer type."""

from __future__ import annotations

import typing

import pytest
from typing_extensions import TypeAliasType

from modelspec.analysis.shapes import RULES
from modelspec.analysis.signal import HANDLERS
from modelspec.schema.layers import LAYER_MODELS, LAYER_TYPES
from modelspec.schema.layers.base import Role
from modelspec.schema.layers.recurrent import Bidirectional


def _members(annotation) -> list:
    """The model classes a (named, annotated) union holds."""
    if isinstance(annotation, TypeAliasType):
        return _members(annotation.__value__)
    if typing.get_origin(annotation) is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    return list(typing.get_args(annotation))


def test_every_layer_type_has_a_shape_rule_and_a_signal_handler():
    assert set(RULES) == set(LAYER_TYPES)
    assert set(HANDLERS) == set(LAYER_TYPES)


@pytest.mark.parametrize("model", LAYER_MODELS, ids=lambda model: model.__name__)
def test_every_layer_type_declares_its_role_and_kernel_slots(model):
    assert isinstance(model.ROLE, Role)
    fields = model.model_fields
    if model.CORE_FIELD is not None:  # a wrapper: its kernel slots are the wrapped layer's
        wrapped = _members(fields[model.CORE_FIELD].annotation)
        assert wrapped, "the core field must hold a union of layer models"
        for inner in wrapped:
            assert inner.KERNEL_SLOTS == model.KERNEL_SLOTS
        return
    for slot in model.KERNEL_SLOTS:
        assert slot in fields and slot.endswith("_initializer")
    weighted_roles = {Role.LINEAR_MAP, Role.RECURRENT, Role.ATTENTION}
    assert bool(model.KERNEL_SLOTS) == (model.ROLE in weighted_roles)
    # per-channel (depthwise) kernels are kernels, and exactly the layers with a depth multiplier have them
    assert set(model.PER_CHANNEL_SLOTS) <= set(model.KERNEL_SLOTS)
    assert bool(model.PER_CHANNEL_SLOTS) == ("depth_multiplier" in fields)


def test_a_wrapped_layer_is_spelled_like_any_layer_type():
    layer = Bidirectional.model_validate({"type": "bidirectional", "layer": {"type": "SimpleRNN", "units": 2}})
    assert layer.layer.type == "simple_rnn"


def test_a_wrapper_reaches_its_layer_and_its_frozen_flag():
    layer = Bidirectional.model_validate(
        {"type": "bidirectional", "layer": {"type": "lstm", "units": 4, "trainable": False}}
    )
    assert layer.core is layer.layer
    assert layer.frozen
    assert layer.applied_activation() == "tanh"
    plain = LAYER_TYPES["dense"].model_validate({"type": "dense", "units": 3, "activation": "relu"})
    assert plain.core is plain and not plain.frozen and plain.applied_activation() == "relu"


def test_an_opaque_layer_knows_only_the_keras_activation_classes():
    keras_layer = LAYER_TYPES["keras"]
    assert keras_layer.model_validate({"type": "keras", "class_name": "ReLU"}).applied_activation() == "relu"
    assert keras_layer.model_validate({"type": "keras", "class_name": "Cropping2D"}).applied_activation() is None
