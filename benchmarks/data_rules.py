"""Measure what the data-aware lint rules (MS601-MS605, `modelspec lint --data`) claim, with `modelspec compare`.

Each case writes a synthetic data set and a spec into a temporary folder and trains the spec's variants with
`modelspec compare` (several seeds, the same data order); the figures go to standard output and into the rules'
"Known problems" docs. Run from the repository root (it takes a few minutes on 2 CPU cores):

    python benchmarks/data_rules.py            # every case
    python benchmarks/data_rules.py range      # one case: range, scale, inputs
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SEEDS = 3


def _regression(folder: Path, offset: float, scale: float, rows: int = 2000) -> Path:
    """8 standard-normal features, a smooth target offset + scale * f(x) (f has unit variance), as an .npz."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=(rows, 8)).astype("float32")
    w = rng.normal(size=(8,)) / np.sqrt(8)
    f = np.tanh(x @ w) + 0.5 * np.sin(x[:, 0])
    f = (f - f.mean()) / f.std()
    y = (offset + scale * f).astype("float32")
    path = folder / f"regression_{offset:g}_{scale:g}.npz"
    np.savez(path, x=x, y=y)
    return path


def _spec(folder: Path, name: str, layers: str, training: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"modelspec: 1\nname: {name}\nseed: 1\ninput: {{shape: [8]}}\nlayers:\n{layers}training:\n{training}",
        encoding="utf-8",
    )
    return path


def _compare(spec: Path, data: Path, vary: list[str], epochs: int) -> dict:
    out = spec.with_suffix(".compare.json")
    command = [sys.executable, "-m", "modelspec", "compare", str(spec), "--data", str(data), "--epochs", str(epochs),
               "--seeds", str(SEEDS), "--quiet", "-o", str(out)]  # fmt: skip
    for option in vary:
        command += ["--vary", option]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text(encoding="utf-8"))


def _show(title: str, results: dict, quantity: str = "val_loss") -> None:
    print(f"\n## {title}")
    for variant in results["variants"]:
        finals = [run["epochs"][-1][quantity] for run in variant["runs"]]
        print(f"{variant['label']:<60} final {quantity}: mean {np.mean(finals):.4g} (seeds: "
              + ", ".join(f"{v:.4g}" for v in finals) + ")")  # fmt: skip


def range_case(folder: Path) -> None:
    """MS601: a squashing or relu output on regression targets outside its range (targets 0.5 + 2 f: 87% outside
    [0, 1], 44% negative)."""
    data = _regression(folder, 0.5, 2.0)
    spec = _spec(
        folder,
        "target_range",
        "  - {type: dense, units: 32, activation: relu}\n  - {type: dense, name: out, units: 1}\n",
        "  optimizer: adam\n  loss: mse\n  epochs: 30\n  batch_size: 32\n  validation_split: 0.2\n",
    )
    _show(
        "MS601 target range (targets 0.5 + 2 f)",
        _compare(spec, data, ["layers.out.activation=linear,sigmoid,relu,tanh"], 30),
    )
    from modelspec import lint  # the floors the rule reports, to set beside the losses training reached

    for activation in ("sigmoid", "relu", "tanh"):
        found = lint(spec, overrides=[f"layers.out.activation={activation}"], data=data)
        print(f"lint --data, {activation}: " + "; ".join(d.message for d in found if d.code == "MS601"))


def scale_case(folder: Path) -> None:
    """MS604: regression targets far from unit scale (mean 1000, std 300) with Adam at 1e-3, against the same
    targets standardised."""
    spec = _spec(
        folder,
        "target_scale",
        "  - {type: dense, units: 32, activation: relu}\n  - {type: dense, name: out, units: 1}\n",
        "  optimizer: adam\n  loss: mse\n  epochs: 30\n  batch_size: 32\n  validation_split: 0.2\n",
    )
    for offset, scale in ((0.0, 1.0), (10.0, 3.0), (100.0, 30.0), (1000.0, 300.0)):
        data = _regression(folder, offset, scale)
        results = _compare(spec, data, ["training.optimizer.learning_rate=0.001"], 30)
        _show(f"MS604 target scale (targets {offset:g} + {scale:g} f): val_loss / {scale:g}^2 is comparable", results)
        finals = [run["epochs"][-1]["val_loss"] / scale**2 for run in results["variants"][0]["runs"]]
        print(f"val_loss / variance: {np.mean(finals):.3g}")


def inputs_case(folder: Path) -> None:
    """MS603: digits pixels 0..16 fed raw, against rescaled to 0..1 (a spec without rescaling, and with it)."""
    spec = folder / "digits_raw.yaml"
    spec.write_text(
        "modelspec: 1\nname: digits_raw\nseed: 1\ninput: {shape: [64]}\nlayers:\n"
        "  - {type: rescaling, name: scale, scale: 1.0}\n"
        "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 10, activation: softmax}\n"
        "training:\n  optimizer: adam\n  loss: sparse_categorical_crossentropy\n  metrics: [accuracy]\n"
        "  epochs: 15\n  batch_size: 32\n  validation_split: 0.2\n",
        encoding="utf-8",
    )
    results = _compare(spec, "digits", ["layers.scale.scale=1.0,0.0625,15.9375"], 15)
    _show("MS603 input scale (digits 0..16 x scale)", results, "val_accuracy")
    _show("MS603 input scale (digits 0..16 x scale)", results, "val_loss")


CASES = {"range": range_case, "scale": scale_case, "inputs": inputs_case}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(CASES)
    with tempfile.TemporaryDirectory() as folder:
        for name in chosen:
            CASES[name](Path(folder))
