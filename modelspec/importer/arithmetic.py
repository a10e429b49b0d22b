"""keras.applications' own custom layers that only do arithmetic, as the operator nodes they amount to.

InceptionResNetV2's ``CustomScaleLayer`` computes ``inputs[0] + inputs[1] * scale``
(keras/src/applications/inception_resnet_v2.py): it becomes ``inputs[1] * scale`` (a rescaling layer named
``<name>_scale``) and an add that keeps the layer's name, which give the same values (the same float32
multiplication, then the same addition). Only the class of that module, with exactly the configuration Keras
writes, is rewritten; any other custom class stays refused (docs/import.md).
"""

from __future__ import annotations

import math
from typing import Optional

from modelspec.importer.graph import OPS_MODULE, FlatModel, Node, Tensor, mapping

CUSTOM_SCALE = ("keras.src.applications.inception_resnet_v2", "CustomScaleLayer")
_CONFIG_KEYS = frozenset({"name", "trainable", "dtype", "scale"})


def rewrite(flat: FlatModel) -> None:
    """Replace each arithmetic custom layer of ``flat`` by operator nodes (``flat.rewritten`` counts them)."""
    taken = {node.name for node in flat.nodes} | {node.name for node in flat.inputs}
    nodes: list[Node] = []
    count = 0
    for node in flat.nodes:
        replaced = _custom_scale(node, taken)
        if replaced is None:
            nodes.append(node)
        else:
            nodes.extend(replaced)
            count += 1
    flat.nodes = nodes
    flat.rewritten = count


def _custom_scale(node: Node, taken: set) -> Optional[list[Node]]:
    if (node.module, node.class_name) != CUSTOM_SCALE or node.registered_name not in (None, "CustomScaleLayer"):
        return None
    config = node.config
    scale = config.get("scale")
    dtype = config.get("dtype")
    dtype = mapping(dtype.get("config")).get("name") if isinstance(dtype, dict) else dtype
    pair = node.args[0] if len(node.args) == 1 and isinstance(node.args[0], list) else None
    if (
        set(config) - _CONFIG_KEYS
        or isinstance(scale, bool)
        or not isinstance(scale, (int, float))
        or not math.isfinite(scale)
        or dtype not in (None, "float32")
        or any(value is not None for value in node.kwargs.values())
        or pair is None
        or len(pair) != 2
        or not all(isinstance(t, Tensor) for t in pair)
    ):
        return None  # not the layer Keras writes: refused as a custom class
    name, n = f"{node.name}_scale", 1
    while name in taken:
        name, n = f"{node.name}_scale_{n}", n + 1
    taken.add(name)
    shortcut, residual = pair
    scaled = Node(name, "Multiply", OPS_MODULE, None, {}, [residual, float(scale)], {}, node.origin, node.input_shape)
    added = Node(node.name, "Add", OPS_MODULE, None, {}, [shortcut, Tensor(name)], {}, node.origin, node.input_shape)
    return [scaled, added]
