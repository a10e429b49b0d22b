"""The activation table: every activation modelspec knows, its family and what `auto` initialises it with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional

from pydantic import BeforeValidator, Field

from modelspec.schema.base import canonical_name

RELU_FAMILY = "relu"
SATURATING = "saturating"
LINEAR = "linear"
SELU = "selu"
OTHER = "other"


@dataclass(frozen=True)
class Activation:
    """One activation: its Keras name, its family and the initializer `auto` picks for layers that feed it."""

    name: str
    family: str
    auto_initializer: str


def _table(*rows: tuple[str, str, str]) -> dict[str, Activation]:
    return {name: Activation(name, family, init) for name, family, init in rows}


ACTIVATIONS: dict[str, Activation] = _table(
    ("linear", LINEAR, "glorot_uniform"),
    ("relu", RELU_FAMILY, "he_normal"),
    ("relu6", RELU_FAMILY, "he_normal"),
    ("leaky_relu", RELU_FAMILY, "he_normal"),
    ("elu", RELU_FAMILY, "he_normal"),
    ("gelu", RELU_FAMILY, "he_normal"),
    ("silu", RELU_FAMILY, "he_normal"),
    ("mish", RELU_FAMILY, "he_normal"),
    ("selu", SELU, "lecun_normal"),
    ("sigmoid", SATURATING, "glorot_uniform"),
    ("hard_sigmoid", SATURATING, "glorot_uniform"),
    ("tanh", SATURATING, "glorot_uniform"),
    ("softmax", SATURATING, "glorot_uniform"),
    ("softsign", SATURATING, "glorot_uniform"),
    ("log_softmax", OTHER, "glorot_uniform"),
    ("softplus", OTHER, "glorot_uniform"),
    ("exponential", OTHER, "glorot_uniform"),
)
ALIASES = {"swish": "silu", "none": "linear", "identity": "linear", "leakyrelu": "leaky_relu"}


def _normalise(value):
    if value is None:
        return "linear"
    return canonical_name(value, ACTIVATIONS, ALIASES, "activation")


ActivationName = Annotated[
    str,
    BeforeValidator(_normalise, json_schema_input_type=Optional[Literal[tuple(ACTIVATIONS) + tuple(ALIASES)]]),
    Field(description="A Keras activation name (`null` means linear)."),
]
