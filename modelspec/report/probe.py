"""`modelspec probe` as tables: per layer the measured activation scale beside the predicted one, per weight the
measured gradient beside the predicted one, then the flags in words."""

from __future__ import annotations

from typing import Optional

from rich.table import Table


def number(value: Optional[float]) -> str:
    """Three significant digits, or `-` where there is no value."""
    return "-" if value is None else f"{value:.3g}"


def _share(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def activation_table(report) -> Table:
    """One row per layer: the output's mean and RMS, measured and predicted, and the dead and saturated shares."""
    where = report.data or "random inputs and labels"
    table = Table(
        title=f"Activations of {report.name} at initialisation",
        title_justify="left",
        caption=f"One training-mode batch of {report.batch} ({where}), seed {report.seed}.",
        caption_justify="left",
    )
    for column in ("Layer", "Type", "Mean", "Predicted", "RMS", "Predicted", "Dead", "Saturated"):
        table.add_column(column, justify="left" if column in ("Layer", "Type") else "right", no_wrap=True)
    for layer in report.layers:
        kind = layer.type + (f" {layer.activation}" if layer.activation and layer.activation != "linear" else "")
        table.add_row(
            layer.name,
            kind,
            number(layer.mean),
            number(layer.predicted_mean),
            number(layer.rms),
            number(layer.predicted_rms),
            _share(layer.dead),
            _share(layer.saturated),
        )
    return table


def gradient_table(report) -> Table:
    """One row per trainable weight: its RMS, its gradient's RMS measured and predicted, and their ratio."""
    loss = "-" if report.loss is None else f"{report.loss:.4g}"
    table = Table(title=f"Gradients of the loss ({loss}) at initialisation", title_justify="left")
    for column in ("Layer", "Weight", "Shape", "Weight RMS", "Gradient RMS", "Predicted", "Gradient/weight"):
        table.add_column(column, justify="left" if column in ("Layer", "Weight", "Shape") else "right", no_wrap=True)
    for layer in report.layers:
        for index, weight in enumerate(layer.weights):
            table.add_row(
                layer.name if index == 0 else "",
                weight.variable,
                "×".join(str(d) for d in weight.shape),
                number(weight.weight_rms),
                number(weight.gradient_rms),
                number(weight.predicted_gradient_rms),
                number(weight.ratio),
            )
    return table


def flag_lines(report) -> list[str]:
    """``layer: flag`` for every flag, in layer order; a line saying so when nothing is flagged."""
    lines = [f"{layer.name}: {flag}" for layer in report.layers for flag in layer.flags]
    return lines or ["No layer is flagged: no vanishing, exploding, dead or saturated layer in this batch."]


def notes(report) -> list[str]:
    """What the reader needs to read the predictions right."""
    result = []
    if report.data is not None:
        result.append(
            "Predicted scales assume standardised inputs (docs/signal.md); the measured ones are of the data as given."
        )
    if report.assumed_loss is not None:
        result.append(
            f"The spec has no `training:` block: the gradients are those of {report.assumed_loss}, the loss its "
            f"output suggests, as the linter assumes."
        )
    return result
