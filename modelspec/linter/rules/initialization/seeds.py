"""Seeds: one explicit seed shared by several initializers (MS108), a spec with no model seed (MS109)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec

# What MS109's hint says to add (and its fix writes); any integer would do.
SUGGESTED_SEED = 42


def _shared_seed(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    users: dict[int, list] = {}
    for info in subject.analysis.layers.values():
        for slot, init in info.initializers.items():
            if init.SEEDED and init.seed is not None:
                users.setdefault(init.seed, []).append((info, slot))
    for seed, places in users.items():
        if len(places) < 2:
            continue
        first_info, first_slot = places[0]
        reported = {subject.field_path(first_info, first_slot)}
        for info, slot in places[1:]:
            path = subject.field_path(info, slot)
            if path in reported:
                continue
            reported.add(path)
            line = subject.document.locate(subject.field_path(first_info, first_slot))[0]
            yield Finding(
                path,
                f"seed {seed} of '{info.name}' {slot.removesuffix('_initializer')} is also the seed of "
                f"'{first_info.name}' {first_slot.removesuffix('_initializer')} (line {line}): both draw "
                f"the same random numbers, so their weights start identical",
                hint="remove the explicit seeds and set the model's `seed:`; modelspec derives a distinct "
                "seed for every variable from it",
                layer=info.name,
            )
        if len(reported) == 1 and reported == {("defaults", first_slot)}:
            yield Finding(
                ("defaults", first_slot),
                f"seed {seed} under `defaults:` is given to the {first_slot.removesuffix('_initializer')} "
                f"of {len(places)} layers: they all draw the same random numbers",
                hint="remove the explicit seed and set the model's `seed:`; modelspec derives a distinct "
                "seed for every variable from it",
            )


MS108 = Rule(
    code="MS108",
    name="shared-seed",
    level=Level.INFO,  # calibrated: not measurably degraded (docs/calibration.md)
    summary="the same explicit seed on several initializers: identical weights",
    check=_shared_seed,
    docs=Docs(
        what="Flags an explicit `seed:` that several initializers share, including one set under `defaults:`.",
        why="A seeded Keras initializer draws the same numbers every time it is called: two layers of the same "
        "shape with the same seed start with identical weights (verified on Keras 3.15), which defeats the "
        "point of random initialisation. The model-level `seed:` gives every variable its own derived seed.",
        example=spec(
            "  - {type: dense, units: 32, activation: relu, kernel_initializer: {type: he_normal, seed: 7}}\n"
            "  - {type: dense, units: 32, activation: relu, kernel_initializer: {type: he_normal, seed: 7}}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 32, activation: relu, kernel_initializer: {type: he_normal, seed: 7}}\n"
            "  - {type: dense, units: 32, activation: relu, kernel_initializer: {type: he_normal}}  # model seed\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        known_problems="Info since calibration (docs/calibration.md, MS108's row; `benchmarks/calibration.py --only "
        "seed "
        "--seeds 2`; digits, 12 epochs, 2 seeds): three same-shape hidden kernels sharing one explicit seed "
        "(identical weight matrices) trained as well as distinct kernels: 0.971 against 0.976 (ReLU 3 × 64, "
        "Adam) and 0.967 against 0.972 (tanh 3 × 64, SGD). The units within a layer still differ, so the "
        "symmetry that stalls a constant kernel (MS101) does not arise; what remains is that the layers are "
        "not independent draws, and reproducibility is better served by the model's `seed:`.",
        references=doc_parts.KERAS_INIT,
    ),
)


def _unseeded(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    if subject.spec.seed is not None:
        return
    random = any(
        init.SEEDED and init.seed is None
        for info in subject.analysis.layers.values()
        for init in info.initializers.values()
    )
    if random:
        path = ("name",) if ("name",) in subject.document.key_locations else ("modelspec",)
        yield Finding(
            path,
            "the spec sets no `seed:`: every build draws different initial weights, so results cannot be reproduced",
            hint=f"add `seed: {SUGGESTED_SEED}` (any integer) at the top level",
        )


MS109 = Rule(
    code="MS109",
    name="unseeded",
    level=Level.INFO,
    summary="no model seed: builds are not reproducible",
    check=_unseeded,
    docs=Docs(
        what="Flags a spec with random initializers and no top-level `seed:`.",
        why="Without a seed every build starts from different weights, so a training run cannot be repeated and "
        "two runs cannot be compared fairly. With `seed:` set, building twice gives bit-identical weights.",
        example=spec("  - {type: dense, units: 10, activation: softmax}\n", seed=None),
        use_instead=spec("  - {type: dense, units: 10, activation: softmax}\n", seed=SUGGESTED_SEED),
        references=doc_parts.KERAS_INIT,
    ),
)
