"""Groups of layers that the picture draws in one frame and can fold into one box.

The renderer takes groups as an input (``Group``: a name and its layers), so that the blocks of the spec language
plug in when they exist. Until then ``derive_groups`` finds them in the layer names, the way Keras names the layers
of its applications:

- a name holding ``block`` and a number belongs to the group named up to that number, an optional letter after it
  included: ``conv2_block1_1_conv`` and ``conv2_block1_add`` -> ``conv2_block1``; ``conv3_block7_0_bn`` ->
  ``conv3_block7`` (DenseNet); ``block_3_expand_BN`` -> ``block_3`` (MobileNetV2); ``block2a_se_squeeze`` ->
  ``block2a`` (EfficientNet);
- otherwise a name whose first word (up to the first ``_``) ends in a digit belongs to the group of that word:
  ``conv1_pad``, ``conv1_conv`` -> ``conv1``; ``pool2_bn`` -> ``pool2`` (a DenseNet transition);
- a group is a run of at least two *consecutive* layers (in the spec's order) with the same group name; a name
  that fits neither pattern (``dense_1``, ``predictions``) is in no group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional

_BLOCK = re.compile(r"^(.*?block_?\d+[a-z]?)(?:_|$)", re.IGNORECASE)
_STAGE = re.compile(r"^([A-Za-z]+\d+)_")


@dataclass(frozen=True)
class Group:
    """Named layers drawn in one frame, which folds into one box."""

    name: str
    members: tuple[str, ...]


def group_name(layer: str) -> Optional[str]:
    """The group a layer's name puts it in by the naming rule (module docstring); None for none."""
    match = _BLOCK.match(layer) or _STAGE.match(layer)
    return match.group(1) if match else None


def derive_groups(names: Sequence[str]) -> list[Group]:
    """Group the runs of consecutive layers (``names`` in the spec's order) that share a group name."""
    groups: list[Group] = []
    run: list[str] = []
    key: Optional[str] = None
    for name in [*names, None]:
        current = group_name(name) if name is not None else None
        if current is not None and current == key:
            run.append(name)
            continue
        if key is not None and len(run) >= 2:
            groups.append(Group(_unique(key, groups), tuple(run)))
        key, run = current, [name]
    return groups


def _unique(name: str, groups: Iterable[Group]) -> str:
    """``name``, or ``name#2``... when an earlier run already took it (two runs of one prefix, apart)."""
    taken = {group.name for group in groups}
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}#{n}"
    return candidate
