"""Recurrent layers and the bidirectional wrapper."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field

from modelspec.schema.activations import ActivationName
from modelspec.schema.base import PositiveInt, Rate, Seed, tagged_union
from modelspec.schema.initializers import Constraint, Initializer, Regularizer
from modelspec.schema.layers.base import AUTO, Kernel, LayerBase, Role


class _Recurrent(Kernel):
    units: PositiveInt = Field(description="Size of the hidden state.", examples=[32])
    activation: ActivationName = Field("tanh", description="Activation of the candidate state / output.")
    recurrent_initializer: Initializer = Field(
        AUTO, description="Initializer of the recurrent kernel (auto: orthogonal)."
    )
    recurrent_regularizer: Optional[Regularizer] = Field(None, description="Penalty on the recurrent kernel.")
    recurrent_constraint: Optional[Constraint] = Field(None, description="Constraint on the recurrent kernel.")
    dropout: Rate = Field(0.0, description="Dropout on the inputs.")
    recurrent_dropout: Rate = Field(0.0, description="Dropout on the recurrent state.")
    return_sequences: bool = Field(False, description="Return the whole sequence, not only the last output.")
    go_backwards: bool = Field(False, description="Process the sequence backwards.")
    seed: Optional[Seed] = Field(None, description="Explicit dropout seed; default: derived from the model seed.")


class _Gated(_Recurrent):
    recurrent_activation: ActivationName = Field("sigmoid", description="Activation of the gates.")


class LSTM(LayerBase, _Gated):
    KERAS_CLASS: ClassVar[str] = "LSTM"
    ROLE: ClassVar[Role] = Role.RECURRENT
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("kernel_initializer",)
    GATES: ClassVar[int] = 4
    type: Literal["lstm"] = Field(description="Long short-term memory layer.")
    unit_forget_bias: bool = Field(True, description="Add 1 to the forget gate's bias at initialisation.")


class GRU(LayerBase, _Gated):
    KERAS_CLASS: ClassVar[str] = "GRU"
    ROLE: ClassVar[Role] = Role.RECURRENT
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("kernel_initializer",)
    GATES: ClassVar[int] = 3
    type: Literal["gru"] = Field(description="Gated recurrent unit layer.")
    reset_after: bool = Field(True, description="Apply the reset gate after the matrix product (cuDNN style).")


class SimpleRNN(LayerBase, _Recurrent):
    KERAS_CLASS: ClassVar[str] = "SimpleRNN"
    ROLE: ClassVar[Role] = Role.RECURRENT
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("kernel_initializer",)
    GATES: ClassVar[int] = 1
    type: Literal["simple_rnn"] = Field(description="Fully connected recurrent layer.")


# Spelled like any layer type (LSTM, SimpleRNN...), in the validator and the JSON Schema alike.
RecurrentLayer = tagged_union(
    "RecurrentLayer",
    (LSTM, GRU, SimpleRNN),
    "recurrent layer type",
    shorthand=False,
    description="A recurrent layer: lstm, gru or simple_rnn, with its fields.",
)


class Bidirectional(LayerBase):
    KERAS_CLASS: ClassVar[str] = "Bidirectional"
    ROLE: ClassVar[Role] = Role.RECURRENT
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("kernel_initializer",)  # the wrapped layer's
    CORE_FIELD: ClassVar[Optional[str]] = "layer"
    type: Literal["bidirectional"] = Field(description="Runs a recurrent layer forwards and backwards.")
    layer: RecurrentLayer = Field(
        description="The recurrent layer (lstm, gru or simple_rnn) to run both ways.",
        examples=[{"type": "lstm", "units": 32}],
    )
    merge_mode: Optional[Literal["concat", "sum", "mul", "ave"]] = Field(
        "concat", description="How the two directions are combined."
    )


RECURRENT_LAYERS = (LSTM, GRU, SimpleRNN, Bidirectional)
