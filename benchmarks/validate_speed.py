"""Validation throughput: 20-layer specs read, validated and analysed per second (target >= 1,000/s); and what
blocks cost: specs/resnet50.yaml (blocks, 50 lines) against its expanded flat twin (176 layers), validated and
linted (target: the block spec costs at most 1.1x its twin).

The baseline measured in the same run is PyYAML's own `yaml.safe_load` of the same text (C loader when
available), so the ratio shows what modelspec's positions, schema and analysis cost on top of plain parsing; the
blocks' baseline is the flat twin, loaded in the same run.

    .venv/bin/python benchmarks/validate_speed.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import yaml

from modelspec import lint, load_spec

BLOCKS = (Path(__file__).resolve().parent.parent / "specs" / "resnet50.yaml").read_text(encoding="utf-8")

SPEC = (
    "\n".join(
        ["modelspec: 1", "name: bench", "seed: 1", "input: {shape: [32, 32, 3]}", "layers:"]
        + [
            f"  - {{type: conv2d, filters: {16 * (1 + i // 6)}, kernel_size: 3, padding: same, activation: relu}}"
            for i in range(12)
        ]
        + [
            "  - {type: batch_norm}",
            "  - {type: max_pool2d}",
            "  - {type: flatten}",
            "  - {type: dropout, rate: 0.3}",
            "  - {type: dense, units: 128, activation: relu, kernel_regularizer: {type: l2, l2: 0.0001}}",
            "  - {type: dense, units: 64, activation: relu}",
            "  - {type: dropout, rate: 0.2}",
            "  - {type: dense, units: 10, activation: softmax}",
            "training: {optimizer: adam, loss: categorical_crossentropy, metrics: [accuracy]}",
        ]
    )
    + "\n"
)


def rate(fn, seconds: float, batch: int = 50) -> tuple[float, float]:
    """Return (median, best) calls per second over batches; the best batch is the least disturbed by
    other processes on a shared machine, the median shows what a loaded machine gives."""
    rates, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(rates) < 5:
        begin = time.perf_counter()
        for _ in range(batch):
            fn()
        rates.append(batch / (time.perf_counter() - begin))
    return statistics.median(rates), max(rates)


def flat_twin(text: str) -> str:
    """The block spec written out flat, one flow mapping per layer, as a person would write it by hand."""
    data = load_spec(text).document.data
    lines = []
    for key, value in data.items():
        if key == "layers":
            lines.append("layers:")
            lines += [f"  - {flow(layer)}" for layer in value]
        else:
            lines.append(f"{key}: {flow(value)}")
    return "\n".join(lines) + "\n"


def flow(value) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=True, width=math.inf, sort_keys=False)
        .strip()
        .removesuffix("...")
        .strip()
    )


def blocks_cost(seconds: float) -> None:
    flat = flat_twin(BLOCKS)
    assert list(load_spec(flat).analysis.layers) == list(load_spec(BLOCKS).analysis.layers)
    for what, fn in (("validate", load_spec), ("lint", lint)):
        block, block_best = rate(lambda fn=fn: fn(BLOCKS), seconds, batch=5)
        twin, twin_best = rate(lambda fn=fn: fn(flat), seconds, batch=5)
        lines, flat_lines = len(BLOCKS.splitlines()), len(flat.splitlines())
        print(
            f"resnet50 {what}: blocks ({lines} lines) median {block:,.1f}/s, best {block_best:,.1f}/s | flat twin "
            f"({flat_lines} lines) median {twin:,.1f}/s, best {twin_best:,.1f}/s | blocks cost {twin / block:.2f}x "
            f"(best {twin_best / block_best:.2f}x) the flat twin (target <= 1.10x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    assert len(load_spec(SPEC).analysis.layers) == 20
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    ours, ours_best = rate(lambda: load_spec(SPEC), args.seconds)
    plain, plain_best = rate(lambda: yaml.load(SPEC, Loader=loader), args.seconds)
    print(
        f"20-layer spec, load_spec (read + validate + analyse): median {ours:,.0f}/s, best batch "
        f"{ours_best:,.0f}/s (target >= 1,000/s)"
    )
    print(
        f"baseline yaml.load alone: median {plain:,.0f}/s, best batch {plain_best:,.0f}/s | "
        f"modelspec costs {plain / ours:.2f}x plain parsing"
    )
    blocks_cost(args.seconds)


if __name__ == "__main__":
    main()
