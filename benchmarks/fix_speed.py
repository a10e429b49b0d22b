"""Fix speed: `lint --fix` of 200 specs with findings against `lint` of the same specs (issue 18: at most 2x).

The specs: the docs example of every rule that has a fix, and variants of them (other widths, names, seeds,
learning rates, activations and initializers), 200 in all, each with at least one finding that has a fix.
Measured in the same run, best of --runs each:

1. In one process: `modelspec.lint` of each text (read, validated, linted) against `modelspec.fix` of each text
   (safe fixes: what `lint --fix` makes), and `fix(..., unsafe=True)` for information.
2. As the CLI: `modelspec lint DIR` against `modelspec lint DIR --fix` on a fresh copy of DIR each run (the fix
   writes the files), both in a fresh interpreter.

    .venv/bin/python benchmarks/fix_speed.py [--runs 3] [--specs 200]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0

# Variants of a docs example: (old, new) replacements, applied where the old text occurs.
VARIATIONS = [
    [],
    [("units: 64", "units: 48")],
    [("units: 32", "units: 24"), ("seed: 1", "seed: 5")],
    [("he_normal", "he_uniform")],
    [("learning_rate: 0.5", "learning_rate: 3.0")],
    [("name: example", "name: variant"), ("units: 10", "units: 12")],
    [("activation: tanh", "activation: sigmoid")],
    [("input: {shape: [32]}", "input: {shape: [100]}")],
]


def corpus(count: int) -> list[str]:
    """``count`` distinct spec texts, each with at least one finding that has a fix (safe or unsafe)."""
    from modelspec import fix
    from modelspec.fixing import NONE, applicability
    from modelspec.linter.registry import RULES

    bases = [rule.docs.example for code, rule in sorted(RULES.items()) if applicability(code) != NONE]
    texts, seen = [], set()
    for round_number in range(count):
        for variation in VARIATIONS:
            for base in bases:
                text = base
                for old, new in variation:
                    text = text.replace(old, new)
                text = text.replace("name: example", f"name: example{round_number}", 1)
                if text in seen or not fix(text, unsafe=True).applied:
                    continue
                seen.add(text)
                texts.append(text)
                if len(texts) == count:
                    return texts
    return texts


def best(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def in_process(texts: list[str], runs: int) -> dict[str, float]:
    """Best time of lint, fix and unsafe fix of every text; the three interleaved, so that a busy machine slows
    them alike."""
    import modelspec

    jobs = {
        "lint": lambda: [modelspec.lint(text) for text in texts],
        "fix": lambda: [modelspec.fix(text) for text in texts],
        "unsafe": lambda: [modelspec.fix(text, unsafe=True) for text in texts],
    }
    times = {name: [] for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            times[name].append(best(job, 1))
    return {name: min(values) for name, values in times.items()}


def lints_per_fix(texts: list[str]) -> float:
    """How many times `fix` runs the rules over a spec, on average (lint runs them once)."""
    import modelspec
    from modelspec.fixing import engine

    calls = 0
    original = engine.located

    def counted(*args, **kwargs):
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    engine.located = counted
    try:
        for text in texts:
            modelspec.fix(text)
    finally:
        engine.located = original
    return calls / len(texts)


def cli(texts: list[str], runs: int) -> tuple[float, float]:
    """Best wall time of `modelspec lint DIR` and of `modelspec lint DIR --fix` (on a fresh copy each run)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "specs"
        source.mkdir()
        for index, text in enumerate(texts):
            (source / f"spec{index:03d}.yaml").write_text(text, encoding="utf-8")
        command = [sys.executable, "-m", "modelspec", "lint"]
        quiet = {"cwd": ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
        lint_times, fix_times = [], []
        for run in range(runs):
            start = time.perf_counter()
            subprocess.run([*command, str(source)], **quiet)
            lint_times.append(time.perf_counter() - start)
            copy = Path(folder) / f"copy{run}"
            shutil.copytree(source, copy)
            start = time.perf_counter()
            subprocess.run([*command, str(copy), "--fix"], **quiet)
            fix_times.append(time.perf_counter() - start)
        changed = sum((copy / name.name).read_text("utf-8") != name.read_text("utf-8") for name in source.iterdir())
    print(f"  CLI --fix changed {changed} of {len(texts)} files")
    return min(lint_times), min(fix_times)


def verdict(ratio: float) -> str:
    return "ok" if ratio <= TARGET else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement (best is kept)")
    parser.add_argument("--specs", type=int, default=200, help="specs with findings")
    args = parser.parse_args()

    texts = corpus(args.specs)
    import modelspec

    fixed = sum(bool(modelspec.fix(text).applied) for text in texts)  # also a warm-up
    print(f"{len(texts)} specs with findings that have a fix; the safe fixes change {fixed}")
    measured = in_process(texts, args.runs)
    print("in one process:")
    print(f"  lint:                 {measured['lint']:.3f} s")
    print(f"  fix (safe):           {measured['fix']:.3f} s")
    print(f"  fix (--unsafe-fixes): {measured['unsafe']:.3f} s")
    ratio = measured["fix"] / measured["lint"]
    print(f"  ratio fix / lint: {ratio:.2f} (target <= {TARGET:g}): {verdict(ratio)}")
    print(f"  ratio unsafe fix / lint: {measured['unsafe'] / measured['lint']:.2f}")
    print(f"  the rules run {lints_per_fix(texts):.2f} times per spec in a fix (once in lint)")
    cli_lint, cli_fix = cli(texts, args.runs)
    print("as the CLI (a fresh interpreter, the 200 files in one folder):")
    print(f"  modelspec lint DIR:       {cli_lint:.3f} s")
    print(f"  modelspec lint DIR --fix: {cli_fix:.3f} s")
    cli_ratio = cli_fix / cli_lint
    print(f"  ratio: {cli_ratio:.2f} (target <= {TARGET:g}): {verdict(cli_ratio)}")


if __name__ == "__main__":
    main()
