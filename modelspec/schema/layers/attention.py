"""Multi-head attention."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field

from modelspec.schema.base import PositiveInt, Rate, Seed
from modelspec.schema.layers.base import Kernel, LayerBase, Role


class MultiHeadAttention(LayerBase, Kernel):
    KERAS_CLASS: ClassVar[str] = "MultiHeadAttention"
    ROLE: ClassVar[Role] = Role.ATTENTION
    KERNEL_SLOTS: ClassVar[tuple[str, ...]] = ("kernel_initializer",)
    MAX_INPUTS: ClassVar[Optional[int]] = 3
    type: Literal["multi_head_attention"] = Field(
        description="Attention with several heads; inputs are [query], [query, value] or [query, value, key]."
    )
    num_heads: PositiveInt = Field(description="Number of attention heads.", examples=[4])
    key_dim: PositiveInt = Field(description="Size of each head for query and key.", examples=[32])
    value_dim: Optional[PositiveInt] = Field(None, description="Size of each head for value (default: key_dim).")
    dropout: Rate = Field(0.0, description="Dropout on the attention weights.")
    output_shape: Optional[PositiveInt] = Field(None, description="Last axis of the output (default: query's).")
    seed: Optional[Seed] = Field(None, description="Explicit dropout seed; default: derived from the model seed.")
