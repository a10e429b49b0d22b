"""The `pretrained:` block (loading is done by runtime/weights.py)."""

from __future__ import annotations

import re
from typing import Union

from pydantic import Field

from modelspec.schema.base import Name, StrictModel


class Pretrained(StrictModel):
    """Weights trained elsewhere, loaded into the built model by layer name."""

    path: str = Field(
        min_length=1,
        description="A .weights.h5, .keras or .npz file, relative to the spec's folder.",
        examples=["base.weights.h5"],
    )
    map: dict[Name, str] = Field(default_factory=dict, description="This spec's layer -> layer name in the file.")
    freeze: Union[bool, list[str]] = Field(
        False, description="Layer names or regular expressions to freeze; true freezes every loaded layer."
    )
    skip_mismatch: bool = Field(False, description="Skip layers whose shapes differ instead of failing.")


MAX_PATTERN = 200  # characters in a `freeze` pattern: enough for any name alternation, little to backtrack over


def compile_pattern(text: str) -> Union[re.Pattern, str]:
    """Compile a `freeze` pattern (matched against whole layer names); return the reason when it cannot be used."""
    if len(text) > MAX_PATTERN:
        return f"freeze pattern longer than {MAX_PATTERN} characters (received: {len(text)} characters)"
    try:
        return re.compile(text)
    except re.error as exc:
        return f"not a regular expression: {exc} (received: {text!r})"
