"""The seeds of the field, reproduced: what an initialisation does to a network, probed and trained on the digits.

Run from anywhere:  .venv/bin/python examples/init_experiments/run.py [--epochs N] [--seeds K] [--out DIR]

For each experiment it probes the spec's variants at initialisation (`modelspec probe`: one PNG each) and trains
them all (`modelspec compare`: a JSON of results and one PNG of loss curves), then prints a Markdown table of what
was measured beside what the linter predicted. The same from the command line, for one experiment:

    modelspec compare examples/init_experiments/deep_relu.yaml --data digits \\
        --vary kernel_initializer=glorot_uniform,he_normal --reach val_accuracy=0.9 --plot deep_relu.png
    modelspec probe examples/init_experiments/deep_relu.yaml --plot deep_relu_probe.png

Outputs go to `results/` beside this file (or --out); `digits_onehot.npz` (the bundled digits with one-hot labels,
for the mean-squared-error experiment) is written there too.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from modelspec.requests import Options, Outputs

HERE = Path(__file__).resolve().parent
CHANCE = 0.1  # ten digits
LEARNS = 0.5  # a variant "trains" when its best validation accuracy gets above this within the epochs
BAD_LEVELS = ("error", "warning")  # the findings that predict bad training (info is advice)


@dataclass(frozen=True)
class Experiment:
    """One spec, the values of its `--vary`, and the data it trains on."""

    name: str
    spec: str
    vary: str
    data: str = "digits"
    accuracy: str = "val_accuracy"

    def path(self) -> Path:
        """The spec's path, relative to the current folder (as the results record it) when it is below it."""
        path = HERE / self.spec
        return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


EXPERIMENTS = [
    Experiment(
        "mlp",
        "mlp.yaml",
        "kernel_initializer=zeros,{type: random_normal, mean: 0, stddev: 1},{type: random_uniform, minval: 0, "
        "maxval: 1},glorot_uniform,he_normal,auto",
    ),
    Experiment("softmax_regression", "softmax_regression.yaml", "layers.digit.kernel_initializer=zeros,glorot_uniform"),
    Experiment(
        "tanh_ones",
        "tanh_ones.yaml",
        "defaults={kernel_initializer: ones, bias_initializer: ones},{kernel_initializer: auto}",
        data="digits_onehot.npz",
        accuracy="val_categorical_accuracy",
    ),
    Experiment("deep_relu", "deep_relu.yaml", "kernel_initializer=glorot_uniform,he_normal"),
]


def write_onehot(folder: Path) -> Path:
    """The bundled digits as an .npz with one-hot labels (x: 1,797 × 64 pixels, y: 1,797 × 10)."""
    import numpy as np

    from modelspec.data import load_data

    digits = load_data("digits", HERE / "mlp.yaml")
    (x,), (y,) = digits.inputs.values(), digits.targets.values()
    path = folder / "digits_onehot.npz"
    np.savez(path, x=x.reshape(len(x), -1), y=np.eye(10, dtype="float32")[y])
    return path


def slug(value) -> str:
    """A file-name part for a value: `zeros`, `random_normal_0_1` for {type: random_normal, mean: 0, stddev: 1}."""
    if isinstance(value, dict):
        return "_".join(slug(item) for item in value.values())
    return re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")


def run(experiment: Experiment, out: Path, epochs: int | None, seeds: int, plots: bool = True) -> dict:
    """Probe and train every variant of one experiment; return the comparison's JSON document."""
    from modelspec import compare, probe
    from modelspec.variants import variants

    data = out / experiment.data if experiment.data.endswith(".npz") else experiment.data
    if plots:
        from modelspec.loader import load_spec

        for variant in variants(load_spec(experiment.path()), [experiment.vary]):
            (value,) = variant.settings.values()
            probe(
                variant.model,
                outputs=Outputs(plot=out / f"{experiment.name}_probe_{slug(value)}.png"),
                label=variant.label,
            )
    comparison = compare(
        experiment.path(),
        data,
        [experiment.vary],
        Options(epochs=epochs),
        Outputs(results=out / f"{experiment.name}.json", plot=out / f"{experiment.name}.png" if plots else None),
        seeds=seeds,
        reach=f"{experiment.accuracy}=0.9",
    )
    return comparison.to_dict()


def verdicts(experiment: Experiment, result: dict) -> list[dict]:
    """Per variant: what the linter said (warnings and errors), what training measured, and whether they agree."""
    rows = []
    for variant in result["variants"]:
        flagged = sorted({f["code"] for f in variant["findings"] if f["level"] in BAD_LEVELS})
        best = variant["summary"][experiment.accuracy]["best"]
        trains = best is not None and best > LEARNS
        rows.append(
            {
                "variant": variant["label"],
                "lint": flagged,
                "best_accuracy": best,
                "epochs_to_0.9": variant["summary"]["epochs_to_reach"],
                "trains": trains,
                "agree": trains != bool(flagged),
            }
        )
    return rows


def markdown(experiment: Experiment, rows: list[dict]) -> str:
    lines = [
        f"**{experiment.name}** (`{experiment.spec}`)",
        "",
        f"| variant | linter (warnings, errors) | best {experiment.accuracy} | epochs to 0.9 | agree |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        reached = [e for e in row["epochs_to_0.9"] if e is not None]
        epochs = ", ".join(str(e) for e in reached) if reached else "never"
        best = "-" if row["best_accuracy"] is None else f"{row['best_accuracy']:.3f}"
        lint = " ".join(row["lint"]) or "clean"
        lines.append(f"| `{row['variant']}` | {lint} | {best} | {epochs} | {'yes' if row['agree'] else '**no**'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="override the specs' 15 epochs")
    parser.add_argument("--seeds", type=int, default=1, help="runs per variant (mean and range in the plots)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the PNGs and JSON go")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_onehot(args.out)
    for experiment in EXPERIMENTS:
        result = run(experiment, args.out, args.epochs, args.seeds)
        print(markdown(experiment, verdicts(experiment, result)), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
