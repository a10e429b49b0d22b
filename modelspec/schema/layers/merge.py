"""Layers that merge several inputs."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field

from modelspec.schema.layers.base import LayerBase, Role


class _Merge(LayerBase):
    ROLE: ClassVar[Role] = Role.MERGE
    MIN_INPUTS: ClassVar[int] = 2
    MAX_INPUTS: ClassVar[Optional[int]] = None


class Add(_Merge):
    KERAS_CLASS: ClassVar[str] = "Add"
    type: Literal["add"] = Field(description="Element-wise sum of its inputs (residual connections).")


class Multiply(_Merge):
    KERAS_CLASS: ClassVar[str] = "Multiply"
    type: Literal["multiply"] = Field(description="Element-wise product of its inputs.")


class Average(_Merge):
    KERAS_CLASS: ClassVar[str] = "Average"
    type: Literal["average"] = Field(description="Element-wise mean of its inputs.")


class Subtract(_Merge):
    KERAS_CLASS: ClassVar[str] = "Subtract"
    MAX_INPUTS: ClassVar[Optional[int]] = 2
    type: Literal["subtract"] = Field(description="First input minus the second.")


class Concatenate(_Merge):
    KERAS_CLASS: ClassVar[str] = "Concatenate"
    type: Literal["concatenate"] = Field(description="Joins its inputs along an axis.")
    axis: int = Field(-1, description="Axis to join along (batch axis excluded from counting: -1 = last).")


MERGE_LAYERS = (Add, Multiply, Average, Subtract, Concatenate)
