"""What the picture shows, from the pure analysis: one box per input and layer, the edges, the groups, the lint
findings on their layers and the predicted signal scale. No drawing here: the renderers read this record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from modelspec.analysis import show_shape
from modelspec.analysis.signal import propagate
from modelspec.diagnostics import Diagnostic, Level
from modelspec.drawing.groups import Group, derive_groups
from modelspec.loader import ModelSpec
from modelspec.summary import activation_text, initializer_text

# worst first: the colour of a box is that of its worst finding
LEVELS = (Level.ERROR, Level.WARNING, Level.INFO)


@dataclass
class Box:
    """One input or layer, with the lines it shows."""

    name: str
    type: str  # the layer type, or "input"
    shape: str
    details: str  # "9,472 params · relu · he_normal (auto)"
    params: Optional[int] = None
    scale: Optional[float] = None  # the predicted output scale (RMS) at initialisation; None: unknown
    findings: list[Diagnostic] = field(default_factory=list)
    output: bool = False
    group: Optional[str] = None

    @property
    def level(self) -> Optional[Level]:
        """The level of the box's worst finding (None: no finding)."""
        return next((level for level in LEVELS if any(d.level is level for d in self.findings)), None)


@dataclass
class Picture:
    """The whole picture: boxes in topological order, edges (producer, consumer), groups, and the findings that
    name no layer (they are listed above the graph)."""

    name: str
    boxes: dict[str, Box]
    edges: list[tuple[str, str]]
    groups: list[Group]
    model_findings: list[Diagnostic]
    changes: list[str] = field(default_factory=list)  # the `--set PATH=VALUE` the spec was drawn with


def _details(params: Optional[int], activation: Optional[str], init: str) -> str:
    parts = ["? params" if params is None else f"{params:,} params"]
    parts += [part for part in (activation, None if init == "-" else init) if part]
    return " · ".join(parts)


def make_picture(model: ModelSpec, findings: Sequence[Diagnostic], groups: Optional[Sequence[Group]] = None) -> Picture:
    """Gather what the picture shows of ``model``: its analysis, ``findings`` (lint's) and ``groups`` (default:
    ``derive_groups`` on the layer names).

    Raises:
        ValueError: a group names a layer the model lacks, or a layer is in two groups.
    """
    analysis = model.analysis
    signal = propagate(analysis).layers
    boxes: dict[str, Box] = {}
    for name, info in analysis.inputs.items():
        boxes[name] = Box(name, "input", show_shape(info.shape), info.dtype, scale=1.0)
    in_spec_order = sorted(analysis.layers.values(), key=lambda info: info.index)
    for info in analysis.layers.values():
        layer_signal = signal.get(info.name)
        boxes[info.name] = Box(
            info.name,
            f"keras {info.spec.class_name}" if info.type == "keras" else info.type,  # which Keras class
            show_shape(info.output_shape),
            _details(info.params, activation_text(info), initializer_text(info)),
            params=info.params,
            scale=None if layer_signal is None else layer_signal.scale,
            output=info.name in analysis.outputs,
        )
    model_findings = []
    for finding in findings:
        if finding.layer in boxes:
            boxes[finding.layer].findings.append(finding)
        else:
            model_findings.append(finding)
    groups = list(derive_groups([info.name for info in in_spec_order]) if groups is None else groups)
    for group in groups:
        for member in group.members:
            if member not in boxes:
                raise ValueError(f"group {group.name!r} names no layer of the model: {member!r}")
            if boxes[member].group is not None:
                raise ValueError(f"layer {member!r} is in two groups: {boxes[member].group!r} and {group.name!r}")
            boxes[member].group = group.name
    edges = [(source, info.name) for info in analysis.layers.values() for source in info.inputs]
    return Picture(analysis.spec.name, boxes, edges, groups, model_findings)
