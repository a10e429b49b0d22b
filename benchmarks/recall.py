"""Recall corpus (issue 17, Deliver 3): train every mutant of tools/mutants.py against its original, decide which
are real faults, and record the verdicts in ``corpus/mutants/verdicts.json``.

Each base model (a small working model of corpus/keras_io/, see tools/mutants.py ``BASES``) trains on a seeded
stand-in task generated here, with `modelspec compare` (its Python API) over 2 seeds; each of its mutants trains
the same way, from the same seeds (the same initial draws where the shapes agree, the same data order). The
original is trained once per base and every mutant is judged against it by the calibration study's criteria
(``benchmarks/calibration.py``'s ``judge``, imported): a mutant is a **fault** when it needs ≥ 2× the original's
epochs to reach 90% of the original's final validation accuracy, or ends with a validation loss ≥ 25% (and
≥ 0.05) worse, or not finite; or when Keras or compare's data check refuses to train it (the refusal is
recorded). Two adjustments, both recorded with the verdict: a mutant that changes the loss is not judged by its
loss (another loss's scale), only by the epochs to the accuracy target, or, for the regression bases, by the
validation mean squared error (the original's loss, logged as a metric by both); a mutant whose own final
validation loss is not finite is a fault whatever it changed.

The record is saved after every mutant (atomically), and a second run resumes: a mutant is trained again only when
its spec (or its original's) changed, so a changed operator is re-trained by running this again.

    PYTHONPATH=$PWD nice .venv/bin/python benchmarks/recall.py [--quick] [--only OPERATOR[,..]] [--bases B[,..]]

``--quick`` trains 1 seed for 2 epochs into a scratch record (default /tmp/recall-quick.json): a check of the
script, not a verdict. Bases can train side by side, each process with its own ``--bases`` and ``--out``; then
``--merge FILE ...`` adds those records to the main one (the record of 2026-12-02 was made so, in three processes).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "corpus" / "mutants" / "verdicts.json"
SEEDS = 2
FIRST_SEED = 1


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


mutants = _load("_recall_mutants", ROOT / "tools" / "mutants.py")
calibration = _load("_recall_calibration", ROOT / "benchmarks" / "calibration.py")


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------- stand-in tasks
# Each returns (arrays for np.savez, a description for the record). Seeded: the same data every run.


def _digits(np):
    with (
        resources.files("modelspec.data").joinpath("digits/digits.csv.gz").open("rb") as raw,
        gzip.open(raw) as text,
    ):
        table = np.loadtxt(text, delimiter=",")
    images = (table[:, :64] / 16.0).astype("float32").reshape(-1, 8, 8)
    index = (np.arange(28) * 8) // 28  # nearest neighbour, 8 -> 28
    return images[:, index][:, :, index][..., None], table[:, 64].astype("int64")


def digits28(np):
    x, y = _digits(np)
    return {"x": x, "y": y}, "bundled digits (1,797), pixels / 16, upsampled to 28×28×1 (nearest); labels 0..9"


def digits28_onehot(np):
    x, y = _digits(np)
    return {"x": x, "y": np.eye(10, dtype="float32")[y]}, "as digits28, labels one-hot (10)"


def tabular_binary(np):
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2000, 30)).astype("float32")
    score = np.tanh(x @ rng.standard_normal((30, 16)) / math.sqrt(30)) @ rng.standard_normal(16)
    y = (score > np.quantile(score, 0.7)).astype("float32")[:, None]
    return {"x": x, "y": y}, "2,000 × 30 standard normal; label: a random tanh teacher's score above its 70th centile"


def sequences_binary(np):
    rng = np.random.default_rng(18)
    rows, steps = 1200, 64
    y = rng.integers(0, 2, rows)
    frequency = np.where(y == 1, rng.uniform(0.08, 0.12, rows), rng.uniform(0.02, 0.05, rows))
    phase = rng.uniform(0, 2 * math.pi, rows)
    t = np.arange(steps)
    x = np.sin(2 * math.pi * frequency[:, None] * t + phase[:, None]) + 0.3 * rng.standard_normal((rows, steps))
    return (
        {"x": x.astype("float32")[..., None], "y": y.astype("int64")},
        "1,200 series of 64 steps: sine of frequency 0.02-0.05 (class 0) or 0.08-0.12 (class 1), noise 0.3",
    )


def tokens_binary(np):
    rng = np.random.default_rng(19)
    rows, steps = 2000, 64
    x = rng.integers(11, 1000, (rows, steps))
    y = rng.integers(0, 2, rows)
    for row in np.flatnonzero(y):
        places = rng.choice(steps, rng.integers(2, 6), replace=False)
        x[row, places] = rng.integers(1, 11, len(places))
    return (
        {"x": x.astype("int64"), "y": y.astype("float32")[:, None]},
        "2,000 sequences of 64 tokens from 11..999; label 1 (half): 2-5 keyword tokens 1..10 inserted",
    )


def sequences_regression(np):
    rng = np.random.default_rng(20)
    x = rng.standard_normal((1600, 24, 7)).astype("float32")
    target = x[:, -6:, 0].mean(axis=1) + 0.5 * x[:, -1, 1] - 0.3 * x[:, :, 2].mean(axis=1)
    target = (target - target.mean()) / target.std()
    return (
        {"x": x, "y": target.astype("float32")[:, None]},
        "1,600 × 24 × 7 standard normal; target: standardised mean of feature 0 over the last 6 steps + 0.5 × "
        "feature 1 at the last step − 0.3 × the mean of feature 2",
    )


def pendulum_regression(np):
    rng = np.random.default_rng(21)
    angle = rng.uniform(-math.pi, math.pi, 2000)
    speed = rng.uniform(-8, 8, 2000)
    x = np.stack([np.cos(angle), np.sin(angle), speed], axis=1).astype("float32")
    action = 2 * np.tanh(-(2 * np.sin(angle) + 0.25 * speed))
    return (
        {"x": x, "y": action.astype("float32")[:, None]},
        "2,000 pendulum states (cos θ, sin θ, θ' in [-8, 8]); target: 2·tanh(−(2 sin θ + θ'/4)) in [-2, 2]",
    )


TASKS = {f.__name__: f for f in (digits28, digits28_onehot, tabular_binary, sequences_binary, tokens_binary)}
TASKS.update({f.__name__: f for f in (sequences_regression, pendulum_regression)})
REGRESSION = {"sequences_regression", "pendulum_regression"}


def write_task(name: str, folder: Path) -> tuple[str, str]:
    """The stand-in task ``name`` as an .npz file in ``folder``: (its path, its description)."""
    import numpy as np

    arrays, description = TASKS[name](np)
    path = folder / f"{name}.npz"
    np.savez(path, **arrays)
    return str(path), description


# -------------------------------------------------------------------------------------------------- training


def trained_spec(spec: dict, regression: bool) -> dict:
    """The spec as trained: a regression base also logs the mean squared error, so that a loss mutant can be
    judged by the original's loss."""
    if not regression:
        return spec
    trained = json.loads(json.dumps(spec))
    trained["training"]["metrics"] = ["mse"]
    return trained


def train(spec: dict, data: str, epochs: int, seeds: int) -> dict:
    """One variant trained by compare over ``seeds`` seeds: its runs and findings (compare's dict), or its
    refusal ``{"refused": message}``."""
    from modelspec import compare
    from modelspec.requests import Options

    try:
        result = compare(spec, data, [f"training.epochs={epochs}"], Options(seed=FIRST_SEED), seeds=seeds)
    except Exception as exc:  # noqa: BLE001 - Keras's and compare's refusals alike are the verdict
        return {"refused": f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"}
    variant = result.to_dict()["variants"][0]
    return {"runs": variant["runs"], "findings": variant["findings"]}


def _mse_key(rows: list[dict]) -> str | None:
    keys = [k for k in (rows[0] if rows else {}) if k.startswith("val_") and k.endswith(("mean_squared_error", "mse"))]
    return keys[0] if keys else None


def _as_loss(variant: dict, key: str) -> dict:
    """``variant`` with its validation mean squared error in place of its loss (regression loss mutants)."""
    runs = [
        {**run, "epochs": [{**row, "val_loss": row.get(key, math.nan)} for row in run["epochs"]]}
        for run in variant["runs"]
    ]
    return {**variant, "runs": runs}


def verdict(base, operator: str, original: dict, mutant: dict, regression: bool) -> dict:
    """Judge a trained mutant against its original by calibration.judge's criteria (see the module's docstring)."""
    if "refused" in mutant:
        return {"fault": True, "why": ["refused"], "refused": mutant["refused"]}
    spec = {"training": {"epochs": len(original["runs"][0]["epochs"])}}
    cell = calibration.Cell("recall", base, spec, "", "", "original", regression=regression)
    variants = [{"label": "original", **original}, {"label": "mutant", **mutant}]
    judged_on = "val_loss"
    if operator == "loss" and regression:
        key = _mse_key(original["runs"][0]["epochs"])
        variants = [_as_loss(v, key) for v in variants]
        judged_on = key
    rows = calibration.judge(cell, variants)
    first, second = rows
    own_losses = [run["epochs"][-1].get("val_loss", math.nan) if run["epochs"] else math.nan for run in mutant["runs"]]
    non_finite = any(not math.isfinite(v) for v in own_losses)
    why = []
    if second["slower"]:
        why.append("slower")
    if second["worse"] and not (operator == "loss" and not regression):
        why.append("worse")
    if non_finite:
        why.append("non-finite")
    return {
        "fault": bool(why),
        "why": why,
        "judged_on": "epochs to target only (another loss)" if operator == "loss" and not regression else judged_on,
        "original": _summary(first),
        "mutant": _summary(second),
    }


def _summary(row: dict) -> dict:
    def number(value):
        return None if value is None else (round(value, 4) if math.isfinite(value) else str(value))

    return {key: number(row[key]) for key in ("val_loss", "val_accuracy", "epochs_to_target")}


def _levels(findings: list[dict]) -> list[str]:
    return sorted({f"{f['code']}:{f['level']}" for f in findings if f["level"] in ("warning", "error")})


def _save(record: dict, path: Path) -> None:
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(record, indent=1, sort_keys=False, default=str) + "\n", encoding="utf-8")
    partial.replace(path)


@dataclass(frozen=True)
class Run:
    """What one invocation trains: the record's path, seeds, the operators (empty: all), quick or not."""

    out: Path
    seeds: int
    only: frozenset
    quick: bool


def train_base(base, record: dict, run: Run, folder: Path) -> None:
    """Train ``base``'s original (unless the record has it, for the same spec) and each of its mutants the record
    lacks; save the record after each."""
    regression = base.data in REGRESSION
    data, description = write_task(base.data, folder)
    spec = trained_spec(mutants.base_spec(base), regression)
    epochs = 2 if run.quick else spec["training"]["epochs"]
    kept = record["bases"].get(base.name, {})
    if kept.get("spec_sha") != spec_hash(spec) or "runs" not in kept.get("trained", {}):
        tick = time.perf_counter()
        trained = train(spec, data, epochs, run.seeds)
        if "refused" in trained:
            raise SystemExit(f"{base.name}: the original does not train: {trained['refused']}")
        kept = {
            "file": f"corpus/keras_io/{base.file}",
            "deviations": base.deviations,
            "data": {"task": base.data, "description": description},
            "epochs": epochs,
            "spec_sha": spec_hash(spec),
            "trained": trained,
            "seconds": round(time.perf_counter() - tick),
        }
        record["bases"][base.name] = kept
        for key in [k for k, m in record["mutants"].items() if m["base"] == base.name]:
            del record["mutants"][key]  # judged against an original that changed
        _save(record, run.out)
        last = [r["epochs"][-1] for r in trained["runs"]]
        print(f"{base.name}: original {json.dumps(last)} ({kept['seconds']} s)", flush=True)
    for mutant in mutants.generate(set(run.only) or None):
        if mutant.base != base.name:
            continue
        mutant_spec = trained_spec(mutant.spec, regression)
        done = record["mutants"].get(mutant.id)
        if done and done["spec_sha"] == spec_hash(mutant_spec):
            continue
        tick = time.perf_counter()
        trained = train(mutant_spec, data, epochs, run.seeds)
        judged = verdict(base.name, mutant.operator, kept["trained"], trained, regression)
        done = record["mutants"][mutant.id] = {
            "base": base.name,
            "operator": mutant.operator,
            "detail": mutant.detail,
            "spec_sha": spec_hash(mutant_spec),
            "verdict": "fault" if judged["fault"] else "not a fault",
            **judged,
            "findings_when_trained": _levels(trained.get("findings", [])),
            "last_epochs": [r["epochs"][-1] for r in trained.get("runs", []) if r["epochs"]],
            "seconds": round(time.perf_counter() - tick),
        }
        _save(record, run.out)
        shown = judged.get("mutant", judged.get("refused", ""))
        print(f"{mutant.id}: {done['verdict']} {judged['why']} {shown} ({done['seconds']} s)", flush=True)


def merge(record: dict, others: list[str], out: Path) -> None:
    """Add the bases and mutants of the records ``others`` (runs of other bases, side by side) to ``record``."""
    for other in others:
        theirs = json.loads(Path(other).read_text(encoding="utf-8"))
        record["bases"].update(theirs["bases"])
        record["mutants"].update(theirs["mutants"])
    _save(record, out)
    print(f"{len(record['mutants'])} mutants of {len(record['bases'])} bases in {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 epochs, a scratch record: checks the script")
    parser.add_argument("--only", default="", help="operators to train, comma-separated (default: all)")
    parser.add_argument("--bases", default="", help="bases to train, comma-separated (default: all)")
    parser.add_argument("--out", default="", help="the record (default corpus/mutants/verdicts.json)")
    parser.add_argument("--merge", nargs="*", default=[], help="train nothing: add these records' bases to --out")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    out = Path(args.out or ("/tmp/recall-quick.json" if args.quick else RECORD))
    out.parent.mkdir(parents=True, exist_ok=True)
    seeds = 1 if args.quick else SEEDS
    record = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    record.setdefault("bases", {})
    record.setdefault("mutants", {})
    record["criteria"] = {
        "slower": calibration.SLOWER,
        "target": calibration.TARGET,
        "worse_relative": calibration.WORSE_RELATIVE,
        "worse_absolute": calibration.WORSE_ABSOLUTE,
        "judge": "benchmarks/calibration.py judge(); see benchmarks/recall.py",
    }
    record["seeds"] = list(range(FIRST_SEED, FIRST_SEED + seeds))
    record["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}"
    if args.merge:
        merge(record, args.merge, out)
        return
    run = Run(out, seeds, frozenset(filter(None, args.only.split(","))), args.quick)
    bases = set(filter(None, args.bases.split(",")))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for base in mutants.BASES:
            if not bases or base.name in bases:
                train_base(base, record, run, Path(folder))
    print(f"{len(record['mutants'])} mutants in {out} ({time.perf_counter() - started:.0f} s this run)")


if __name__ == "__main__":
    main()
