"""Plots (matplotlib, headless): a training run's curves, a probe's scales per layer, a comparison's loss curves,
a study's trials (`modelspec tune`)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional, Union

from modelspec.atomic import replacing, writable
from modelspec.errors import SettingsError
from modelspec.variants import show


def plot_path(path: Optional[Union[str, os.PathLike]], here: bool = True) -> Optional[Path]:
    """Check a `--plot` file before any work starts: a .png in a folder that exists (``here``: see ``writable``),
    and matplotlib installed. ``None`` (no plot asked for) is returned as it is."""
    if path is None:
        return None
    path = writable(path, "--plot", ".png", here)
    if importlib.util.find_spec("matplotlib") is None:
        raise SettingsError("--plot needs matplotlib, which modelspec[tf] installs: pip install 'modelspec[tf]'")
    return path


def plot_history(history, path: Union[str, os.PathLike], title: str) -> None:
    """Write a PNG with one panel for the loss and one per metric (training solid, validation dashed), and the
    learning rate when it changed. Atomic, like every output."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display needed, nothing opens a window
    import matplotlib.pyplot as plt

    columns = history.quantities()
    quantities = [c for c in columns if not c.startswith("val_")]
    rates = history.series("learning_rate")
    panels = quantities + (["learning_rate"] if len(set(rates)) > 1 else [])
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    epochs = history.series("epoch")
    for axis, name in zip(axes[0], panels):
        if name == "learning_rate":
            axis.plot(epochs, rates, color="tab:gray", marker=".")
            axis.set_yscale("log")
        else:
            axis.plot(epochs, history.series(name), marker=".", label="training")
            if f"val_{name}" in columns:
                axis.plot(epochs, history.series(f"val_{name}"), marker=".", linestyle="--", label="validation")
                axis.legend(frameon=False)
        axis.set_title(name.replace("_", " "))
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(title)
    figure.tight_layout()
    with replacing(path, ".png") as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path, plt) -> None:
    with replacing(path, ".png") as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)


def _log_series(axis, labels: list[str], series: list[tuple[str, list, dict]]) -> None:
    """Plot several series against the same labels on a log axis; zeros sit at the bottom, drawn as down-triangles
    (and a panel of zeros only says so)."""
    positive = [v for _, values, _ in series for v in values if v is not None and 0 < v < float("inf")]
    floor = min(positive) / 10 if positive else 1.0
    xs = list(range(len(labels)))
    zeros_seen = False
    for name, values, style in series:
        shown = [v if v is not None and 0 < v < float("inf") else float("nan") for v in values]
        if any(v == v for v in shown):  # a gap (NaN) where a value is zero or unknown: no line across it
            axis.plot(xs, shown, label=name, **style)
        zeros = [x for x, v in zip(xs, values) if v == 0]
        if zeros and positive:
            zeros_seen = True
            axis.plot(zeros, [floor] * len(zeros), linestyle="none", marker="v", color=style.get("color"), markersize=8)
    axis.set_yscale("log")
    axis.grid(alpha=0.3, which="both")
    step = max(1, len(labels) // 24)
    axis.set_xlim(-0.5, len(labels) - 0.5)
    axis.set_xticks(xs[::step])
    axis.set_xticklabels(labels[::step], rotation=60, ha="right", fontsize=8)
    if not positive:
        axis.set_yticks([])
        axis.set_yticks([], minor=True)
        axis.text(0.5, 0.5, "every value is exactly zero", ha="center", va="center", transform=axis.transAxes)
        return
    if zeros_seen:
        axis.plot([], [], linestyle="none", marker="v", color="gray", label="exactly zero (at the bottom)")
    axis.legend(frameon=False, fontsize=8)


def plot_probe(report, path: Union[str, os.PathLike]) -> None:
    """Write a PNG of a probe: activation RMS per layer and gradient RMS per kernel, measured and predicted, on
    log axes (a zero is drawn as a down-triangle at the bottom). Atomic."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    measured = {"color": "tab:blue", "marker": "o", "markersize": 4}
    predicted = {"color": "tab:orange", "marker": "x", "linestyle": "--"}
    names = [layer.name for layer in report.layers]
    _log_series(
        left,
        names,
        [
            ("measured", [layer.rms for layer in report.layers], measured),
            ("predicted", [layer.predicted_rms for layer in report.layers], predicted),
        ],
    )
    left.set_title("activation RMS per layer")
    kernels = [(layer.name, w) for layer in report.layers for w in layer.weights if w.is_kernel]
    _log_series(
        right,
        [name if w.variable == "kernel" else f"{name}/{w.variable}" for name, w in kernels],
        [
            ("measured", [w.gradient_rms for _, w in kernels], measured),
            ("predicted", [w.predicted_gradient_rms for _, w in kernels], predicted),
        ],
    )
    right.set_title("gradient RMS per kernel")
    source = report.data or "random inputs"
    title = report.name + (f" ({report.label})" if report.label else "")
    figure.suptitle(f"{title} at initialisation: {source}, batch {report.batch}, seed {report.seed}")
    figure.tight_layout()
    _save(figure, path, plt)


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")  # so that variants whose curves coincide stay visible


def _band(axis, epochs_runs: list[list[float]], color, label: str, linestyle: str, marker: str = ".") -> None:
    """The mean over runs as a line and (several runs) the range as a band; epochs cut at the shortest run."""
    length = min(len(run) for run in epochs_runs)
    if length == 0:
        return
    columns = [[run[i] for run in epochs_runs] for i in range(length)]
    xs = list(range(1, length + 1))
    means = [sum(c) / len(c) for c in columns]
    axis.plot(xs, means, color=color, linestyle=linestyle, label=label, marker=marker, markersize=4, fillstyle="none")
    if len(epochs_runs) > 1:
        axis.fill_between(xs, [min(c) for c in columns], [max(c) for c in columns], color=color, alpha=0.18)


def _legend(variant) -> str:
    if len(variant.settings) == 1:
        return show(next(iter(variant.settings.values())))
    return variant.label


def plot_compare(comparison, path: Union[str, os.PathLike]) -> None:
    """Write a PNG of a comparison: the loss per epoch of every variant, overlaid (training solid, validation
    dashed; with several seeds the mean and the range), and the first metric beside it. Atomic."""
    plt = _pyplot()
    quantities = []
    for variant in comparison.variants:
        quantities += [q for q in variant.quantities() if q not in quantities]
    metrics = [q for q in quantities if q != "loss" and not q.startswith("val_")]
    panels = ["loss", *metrics[:1]]
    figure, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), squeeze=False)
    colours = plt.get_cmap("tab10")
    for axis, quantity in zip(axes[0], panels):
        for index, variant in enumerate(comparison.variants):
            colour = colours(index % 10)
            for name, style in ((quantity, "-"), (f"val_{quantity}", "--")):
                runs = [[row[name] for row in run.rows if name in row] for run in variant.runs]
                if runs and all(runs):
                    label = _legend(variant) if style == "-" else None
                    _band(axis, runs, colour, label, style, MARKERS[index % len(MARKERS)])
        finite = [v for line in axis.get_lines() for v in line.get_ydata() if v == v and abs(v) != float("inf")]
        if quantity == "loss" and finite and min(finite) > 0 and max(finite) / min(finite) > 30:
            axis.set_yscale("log")
        validated = f"val_{quantity}" in quantities
        axis.set_title(quantity.replace("_", " ") + (" (validation dashed)" if validated else ""))
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    fields = list(comparison.variants[0].settings) if comparison.variants else []
    axes[0][0].legend(frameon=False, fontsize=8, title=fields[0] if len(fields) == 1 else None, title_fontsize=8)
    seeds = comparison.seeds
    over = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean and range over {len(seeds)} seeds"
    figure.suptitle(f"{comparison.name} on {comparison.data}: {over}")
    figure.tight_layout()
    _save(figure, path, plt)


# How each state of a tune trial is drawn: completed trials in colour, the pruner's in grey, the pre-flight's in red
TRIAL_STYLES = {
    "complete": {"color": "tab:blue", "marker": "o", "label": "complete"},
    "pruned": {"color": "tab:gray", "marker": "x", "label": "pruned during training"},
    "refused": {"color": "tab:red", "marker": "v", "label": "refused by lint (not trained)"},
    "failed": {"color": "black", "marker": "+", "label": "failed"},
}


def _trial_value(trial, floor: float) -> float:
    value = trial.value
    return floor if value is None or value != value or value in (float("inf"), float("-inf")) else value


def _tune_panel(axis, result, xs, search=None) -> None:
    """Plot each trial's metric against ``xs`` (trial numbers, or one searched path's values); trials without a
    value (refused, failed) sit at the bottom of the panel."""
    values = [t.value for t in result.trials if t.value is not None and t.value == t.value and abs(t.value) < 1e300]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    floor = low / 2 if values and low > 0 and high / low > 20 else low - 0.08 * ((high - low) or 1.0)
    for state, style in TRIAL_STYLES.items():
        chosen = [(x, t) for x, t in zip(xs, result.trials) if t.state == state]
        if chosen:
            axis.scatter([x for x, _ in chosen], [_trial_value(t, floor) for _, t in chosen], s=28,
                         color=style["color"], marker=style["marker"], label=style["label"], zorder=3)  # fmt: skip
    axis.set_ylabel(result.plan.metric)
    axis.grid(alpha=0.3)
    if values and low > 0 and high / low > 20:  # losses that span decades: a log scale keeps the good ones apart
        axis.set_yscale("log")
    if search is not None and search.distribution.kind == "choice":
        labels = list(search.distribution.labels)
        axis.set_xticks(range(len(labels)))
        axis.set_xticklabels([label if len(label) <= 18 else label[:17] + "…" for label in labels], rotation=20,
                             ha="right", fontsize=8)  # fmt: skip
        axis.set_xlim(-0.5, len(labels) - 0.5)
    elif search is not None and search.distribution.log:
        axis.set_xscale("log")


def plot_tune(result, path: Union[str, os.PathLike]) -> None:
    """Write a PNG of a study: the optimisation history (each trial's metric by trial number, the best so far as a
    line), then one panel per searched path (each trial's metric against its value: the parameter's effect)."""
    plt = _pyplot()
    plan = result.plan
    trials = sorted(result.trials, key=lambda t: t.number)
    result = type(result)(plan, trials)
    panels = 1 + len(plan.space)
    columns = min(panels, 3)
    rows = -(-panels // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    flat = [axis for row in axes for axis in row]
    history = flat[0]
    numbers = [t.number for t in trials]
    _tune_panel(history, result, numbers)
    pick = max if plan.direction == "max" else min
    best, line = None, []
    for trial in trials:
        if trial.state == "complete" and trial.value is not None and trial.value == trial.value:
            best = trial.value if best is None else pick(best, trial.value)
        line.append(best if best is not None else float("nan"))
    history.step(numbers, line, where="post", color="tab:orange", label=f"best so far ({plan.direction})")
    history.set_xlabel("trial")
    history.set_title("optimisation history")
    history.xaxis.get_major_locator().set_params(integer=True)
    history.legend(frameon=False, fontsize=7)
    for axis, search in zip(flat[1:], plan.space):
        if search.distribution.kind == "choice":
            labels = list(search.distribution.labels)
            xs = [labels.index(show(t.params[search.field])) if search.field in t.params else float("nan")
                  for t in trials]  # fmt: skip
        else:
            xs = [t.params.get(search.field, float("nan")) for t in trials]
        _tune_panel(axis, result, xs, search)
        axis.set_title(search.field, fontsize=10)
        axis.set_xlabel(search.distribution.text(), fontsize=8)
    for axis in flat[panels:]:
        axis.set_visible(False)
    figure.suptitle(f"{plan.model.name}: {len(trials)} trials on {plan.data_label}, {plan.metric}")
    figure.tight_layout()
    _save(figure, path, plt)
