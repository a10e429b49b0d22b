"""Lint speed: a cold `modelspec lint` against a cold `import tensorflow`, and lint throughput in one process.

1. Cold start: `modelspec lint specs/mlp.yaml` in a fresh interpreter, against `python -c "import tensorflow"`
   measured in the same run (best of --runs each). Target: lint takes at most 0.15 of the import.
2. Throughput: 1,000 different specs (the example specs and every rule's docs example, with varied widths and
   depths) loaded and linted in one process, and linted alone once loaded. Target: >= 1,000 specs/s.

    .venv/bin/python benchmarks/lint_speed.py [--runs 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cold(command: list[str], runs: int) -> float:
    """Best wall time of ``command`` in a fresh process."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def corpus(count: int) -> list[str]:
    """``count`` distinct spec texts: the example specs and the rule examples, with widths and depths varied."""
    from modelspec.linter.registry import RULES

    # A spec that `extends:` another names it relative to its own folder: it cannot stand alone as text.
    texts = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "specs").glob("*.yaml"))]
    bases = [text for text in texts if "\nextends:" not in text]
    bases += [rule.docs.example for rule in RULES.values()] + [rule.docs.use_instead for rule in RULES.values()]
    texts = []
    for i in range(count):
        text = bases[i % len(bases)].replace("units: 64", f"units: {32 + i % 97}")
        texts.append(text.replace("name: example", f"name: example{i}"))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold runs of each command (best is kept)")
    parser.add_argument("--specs", type=int, default=1000, help="specs in the throughput test")
    args = parser.parse_args()

    modelspec = [sys.executable, "-m", "modelspec", "lint", "specs/mlp.yaml"]
    tensorflow = [sys.executable, "-c", "import tensorflow"]
    lint_time, tf_time = cold(modelspec, args.runs), cold(tensorflow, args.runs)
    ratio = lint_time / tf_time
    print(f"cold `modelspec lint specs/mlp.yaml`: {lint_time:.3f} s")
    print(f"cold `import tensorflow`:            {tf_time:.3f} s")
    print(f"ratio: {ratio:.3f} (target <= 0.15): {'ok' if ratio <= 0.15 else 'MISSED'}")

    from modelspec import lint, load_spec

    texts = corpus(args.specs)
    start = time.perf_counter()
    loaded = [load_spec(text) for text in texts]
    load_time = time.perf_counter() - start
    start = time.perf_counter()
    findings = sum(len(lint(spec)) for spec in loaded)
    lint_only = time.perf_counter() - start
    both = args.specs / (load_time + lint_only)
    print(f"{args.specs} specs: load {load_time:.3f} s, lint {lint_only:.3f} s ({findings} findings)")
    print(f"throughput, load + lint: {both:,.0f} specs/s (target >= 1,000): {'ok' if both >= 1000 else 'MISSED'}")
    print(f"throughput, lint of loaded specs: {args.specs / lint_only:,.0f} specs/s")


if __name__ == "__main__":
    main()
