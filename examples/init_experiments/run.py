"""The seeds of the field, reproduced: what an initialisation does to a network, probed and trained on the digits.

Run from anywhere:  .venv/bin/python examples/init_experiments/run.py [--epochs N] [--seeds K] [--out DIR]

For each experiment it probes the spec's variants at initialisation (`modelspec probe`: one PNG each) and trains
them all (`modelspec compare`: a JSON of results and one PNG of loss curves), then prints a Markdown table of what
was measured beside what the linter predicted and what the README claims (``CLAIMS``), and exits 1 when a claim does
not hold. The same from the command line, for one experiment:

    modelspec compare examples/init_experiments/deep_relu.yaml --data digits \\
        --vary kernel_initializer=glorot_uniform,he_normal --reach val_accuracy=0.9 --plot deep_relu.png
    modelspec probe examples/init_experiments/deep_relu.yaml --plot deep_relu_probe.png

Outputs go to `output/` beside this file (ignored by git), or to --out; `digits_onehot.npz` (the bundled digits with
one-hot labels, for the mean-squared-error experiment) is written there too. `results/` holds the reference run the
README shows; `--out examples/init_experiments/results` writes it again.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from modelspec.requests import Options, Outputs

HERE = Path(__file__).resolve().parent
CHANCE = 0.1  # ten digits
LEARNS = 0.5  # a variant "trains" when its best validation accuracy gets above this within the epochs
BAD_LEVELS = ("error", "warning")  # the findings that predict bad training (info is advice)
REACH = 0.9  # the accuracy `--reach` counts the epochs to
SETTING = {"epochs": 15, "seeds": 1}  # what the README's claims were measured with (seed 7, the specs' own epochs)


@dataclass(frozen=True)
class Claim:
    """What the README's table says of one variant: its best validation accuracy and the epoch it reached 0.9 at
    (None: never). The README claims more than the numbers, and that is what is judged (the numbers are the
    reference run's, bit-identical on one machine, not across CPUs): a variant that reached 0.9 there reaches it
    again; one that never did stays at chance (under ``LEARNS``); and the linter flags exactly the second kind."""

    best: float
    reached: Optional[int]

    @property
    def trains(self) -> bool:
        return self.reached is not None


# The README's table, by experiment and variant (``slug`` of the value varied). tests/test_init_experiments.py
# checks that the README shows these numbers and that the reference run in results/ has them.
CLAIMS = {
    "mlp": {
        "zeros": Claim(0.092, None),
        "random_normal_0_1": Claim(0.128, None),
        "random_uniform_0_1": Claim(0.092, None),
        "glorot_uniform": Claim(0.992, 2),
        "he_normal": Claim(0.992, 1),
        "auto": Claim(0.992, 1),
    },
    "softmax_regression": {"zeros": Claim(0.975, 1), "glorot_uniform": Claim(0.975, 1)},
    "tanh_ones": {"ones_ones": Claim(0.122, None), "auto": Claim(0.969, 2)},
    "deep_relu": {"glorot_uniform": Claim(0.092, None), "he_normal": Claim(0.931, 14)},
}


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


def judged(result: dict) -> bool:
    """Whether a result was measured as the README's were (its epochs and number of seeds), so that its claims apply."""
    return result["epochs"] == SETTING["epochs"] and len(result["seeds"]) == SETTING["seeds"]


def verdicts(experiment: Experiment, result: dict) -> list[dict]:
    """Per variant: what the linter said (warnings and errors), what training measured, whether they agree, and,
    for a result measured as the README's were, what the README claims and whether the claim holds."""
    rows = []
    for variant in result["variants"]:
        flagged = sorted({f["code"] for f in variant["findings"] if f["level"] in BAD_LEVELS})
        best = variant["summary"][experiment.accuracy]["best"]
        reached = [epoch for epoch in variant["summary"]["epochs_to_reach"] if epoch is not None]
        trains = best is not None and best > LEARNS
        (value,) = variant["settings"].values()
        claim = CLAIMS[experiment.name][slug(value)]
        holds = None
        if judged(result):  # reached 0.9 again, or stayed at chance again, as the README says
            holds = len(reached) == SETTING["seeds"] if claim.trains else not reached and not trains
        rows.append(
            {
                "variant": variant["label"],
                "lint": flagged,
                "best_accuracy": best,
                "epochs_to_0.9": variant["summary"]["epochs_to_reach"],
                "trains": trains,
                "agree": trains != bool(flagged),
                "claim": claim,
                "claim_holds": holds,
            }
        )
    return rows


def markdown(experiment: Experiment, rows: list[dict]) -> str:
    """The experiment's rows as a Markdown table: measured, the README's claim beside it, and the two verdicts."""
    lines = [
        f"**{experiment.name}** (`{experiment.spec}`)",
        "",
        f"| variant | linter (warnings, errors) | best {experiment.accuracy} (README) | epochs to 0.9 (README) "
        "| lint agrees | README claim | holds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        claim = row["claim"]
        reached = [e for e in row["epochs_to_0.9"] if e is not None]
        epochs = ", ".join(str(e) for e in reached) if reached else "never"
        best = "-" if row["best_accuracy"] is None else f"{row['best_accuracy']:.3f}"
        lint = " ".join(row["lint"]) or "clean"
        said = f"reaches {REACH}" if claim.trains else "stays at chance"
        holds = {None: f"not judged ({SETTING['epochs']} epochs, 1 seed only)", True: "yes", False: "**no**"}
        lines.append(
            f"| `{row['variant']}` | {lint} | {best} ({claim.best:.3f}) | {epochs} ({claim.reached or 'never'}) "
            f"| {'yes' if row['agree'] else '**no**'} | {said} | {holds[row['claim_holds']]} |"
        )
    return "\n".join(lines)


def main() -> int:
    """Run every experiment; return 1 when the linter and training disagree or a README claim does not hold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="override the specs' 15 epochs (the README's claims are not judged)")
    parser.add_argument("--seeds", type=int, default=1, help="runs per variant (mean and range in the plots)")
    parser.add_argument(
        "--out", type=Path, default=HERE / "output", help="where the PNGs and JSON go [default: output/ beside this]"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_onehot(args.out)
    failed = []
    for experiment in EXPERIMENTS:
        rows = verdicts(experiment, run(experiment, args.out, args.epochs, args.seeds))
        print(markdown(experiment, rows), end="\n\n", flush=True)
        failed += [row["variant"] for row in rows if not row["agree"] or row["claim_holds"] is False]
    if failed:
        print(
            f"Not as the README says: {', '.join(failed)}. Results are bit-identical on one machine, not across CPUs."
        )
        return 1
    print(f"Wrote {args.out}. Every result is as the README says.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
