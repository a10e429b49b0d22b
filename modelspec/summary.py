"""The summary table `modelspec build` prints, computed from the static analysis (no TensorFlow)."""

from __future__ import annotations

from typing import Optional

from rich.table import Table

from modelspec.analysis import Analysis, show_shape
from modelspec.pretrained.plan import Plan


def initializer_text(layer) -> str:
    """Name the layer's main initializer (its first kernel, or an embedding's table), marking what `auto` chose."""
    for slot in (*layer.spec.KERNEL_SLOTS, "embeddings_initializer"):
        if slot in layer.initializers:
            text = layer.initializers[slot].type
            return f"{text} (auto)" if slot in layer.auto_slots else text
    return "-"


def activation_text(layer) -> Optional[str]:
    """The activation the layer applies (a keras ReLU's relu, a bidirectional LSTM's tanh...); None for a layer with no
    activation of its own (dropout, pooling)."""
    activation = layer.spec.applied_activation()
    if activation == "linear" and not hasattr(layer.spec.core, "activation"):
        return None
    return activation


def _count(value) -> str:
    return "?" if value is None else f"{value:,}"


def summary_table(analysis: Analysis) -> Table:
    """Return one row per layer (name, type, output shape, params, activation, initializer) and totals."""
    table = Table(title=f"Model: {analysis.spec.name}", title_justify="left")
    for column, justify in (
        ("Layer", "left"),
        ("Type", "left"),
        ("Output shape", "left"),
        ("Params", "right"),
        ("Activation", "left"),
        ("Kernel init", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)
    for name, info in analysis.inputs.items():
        table.add_row(name, "input", show_shape(info.shape), "0", "-", "-")
    for layer in analysis.layers.values():
        table.add_row(
            layer.name,
            layer.type,
            show_shape(layer.output_shape),
            _count(layer.params),
            activation_text(layer) or "-",
            initializer_text(layer),
        )
    return table


def trainable_params(analysis: Analysis, plan: Optional[Plan] = None) -> int:
    """The trainable parameters of the model the build makes: the analysis's, less the layers ``plan`` freezes."""
    frozen = plan.frozen if plan is not None else frozenset()
    return sum(layer.trainable_params or 0 for layer in analysis.layers.values() if layer.name not in frozen)


def totals(analysis: Analysis, plan: Optional[Plan] = None) -> list[str]:
    """The lines under the table: parameters in all, trainable (the pretrained ``plan``'s frozen layers are not),
    non-trainable."""
    unknown = "" if analysis.complete else " (+ unknown: opaque `type: keras` layers)"
    trainable = trainable_params(analysis, plan)
    return [
        f"Total params: {analysis.total_params:,}{unknown}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {analysis.total_params - trainable:,}",
    ]
