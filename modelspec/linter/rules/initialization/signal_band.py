"""The signal band: the static signal analysis (analysis/signal.py) predicts a scale that vanishes (MS110) or
explodes (MS111) through the network."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.initializers import CONSTANT, family


def _judged(subject: Subject) -> Iterator[tuple]:
    """Yield (layer, predicted scale factor) for every weighted layer whose pre-activation the band applies to:
    not constant (MS101's business), not feeding normalisation (which resets the scale), signal known."""
    for name, predicted in subject.signal.layers.items():
        info = subject.analysis.layers[name]
        if name not in subject.analysis.weighted or predicted.factor is None or predicted.pre[1] == 0:
            continue
        if any(family(init) == CONSTANT for _, init in info.kernels()):
            continue
        if subject.analysis.normalised(name):
            continue
        yield info, predicted.factor


def _band(subject: Subject, outside, word: str, bound: float) -> Iterator[Finding]:
    judged = list(_judged(subject))
    leaving = [(info, factor) for info, factor in judged if outside(factor)]
    if not leaving:
        return
    first, factor = leaving[0]
    worst, worst_factor = (
        min(leaving, key=lambda pair: pair[1]) if word == "vanishing" else max(leaving, key=lambda pair: pair[1])
    )
    depth = sum(1 for info, _ in judged if info.index <= first.index)
    tail = "" if worst is first else f", and {worst_factor:.2g}× at '{worst.name}'"
    direction = "shrinks" if word == "vanishing" else "grows"
    yield Finding(
        first.path,
        f"the signal {direction} through the network: its predicted scale at the pre-activation of "
        f"'{first.name}' (weighted layer {depth}) is {factor:.2g}× the input's, outside the healthy band "
        f"({'below' if word == 'vanishing' else 'above'} {bound:g}){tail}",
        hint="initialise each layer for the activation it feeds (`kernel_initializer: auto`), or add "
        "batch_norm / layer_norm; see docs/signal.md",
        layer=first.name,
    )


def _vanishing(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    low = options["vanishing-scale"]
    yield from _band(subject, lambda factor: factor < low, "vanishing", low)


def _exploding(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    high = options["exploding-scale"]
    yield from _band(subject, lambda factor: factor > high, "exploding", high)


_BAND_WHY = (
    "The analysis (docs/signal.md) propagates the second moment of the activations from the inputs "
    "(assumed standardised) through every layer, using each kernel's fan-in and initializer variance and "
    "each activation's gain, and compares the root mean square of each weighted layer's pre-activation "
    "with the input's. "
)

MS110 = Rule(
    code="MS110",
    name="vanishing-signal",
    level=Level.WARNING,
    summary="static signal propagation predicts a scale below the threshold",
    check=_vanishing,
    options={"vanishing-scale": 0.01},
    docs=Docs(
        what="Flags a network whose predicted signal scale falls below `vanishing-scale` (default 0.01× the "
        "input's) at some weighted layer's pre-activation, naming the first such layer and the smallest "
        "scale reached.",
        why=_BAND_WHY + "When the forward signal shrinks geometrically with depth, so do the gradients of the "
        "early layers: a 30-layer ReLU MLP with Glorot init ends at about 3e-5 of the input's scale "
        "and its first layers barely learn.",
        example=spec(
            "  - {type: dense, units: 64, activation: relu}\n" * 4
            + "  - {type: dense, units: 10, activation: softmax}\n",
            extra="defaults:\n  kernel_initializer: {type: variance_scaling, scale: 0.1}\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}   # auto: he_normal\n" * 4
            + "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        references="\n".join((doc_parts.GLOROT_2010, doc_parts.HE_2015, doc_parts.SIGNAL_DOC)),
        known_problems="Calibrated on digits (docs/calibration.md, docs/calibration/signal_band.png; re-run with "
        "`benchmarks/calibration.py --only signal`), Glorot against the hint (`auto`, He) in ReLU stacks without "
        "normalisation: at depth 24 (predicted scale 3e-4) training fails with SGD (chance) and ends at 0.64 "
        "accuracy against 0.92 with Adam; a 12-conv VGG-like stack (0.002) needs 2.25× the epochs to reach 90% of "
        "He's accuracy with Adam, then ends within 0.5% of it. So the warning is backed at and below 0.002, but "
        "mildly near the threshold. Keras's own VGG16 (Glorot default, 0.0099 at block5_conv1, logits at 0.0021) "
        "does not train from scratch: at its predicted scale (widths ÷4, 64 × 64) it stays at chance for 12 epochs "
        "with Adam on 3 of 3 seeds where He reaches 0.96 (`--only vgg16_narrow`). At "
        "depth 12 (0.02, no finding) Adam also starts 2.25× slower and ends within 1%: the threshold misses some "
        "slow starts. And the predicted scale alone does not decide: a depth-8 ReLU MLP whose kernels are all "
        "scaled down (random_normal 0.025, or Keras 1's uniform ±0.05; predicted 1e-8) trains with Adam within "
        "1.7× He's epochs and 5% of its accuracy (probably because Adam's step does not shrink with the weights, so a "
        "uniformly small network regains its scale in a few steps); under SGD it was not measured. The study's runs "
        "are short (12 epochs) and few (2 seeds); the scale is predicted for standardised inputs.",
    ),
)

MS111 = Rule(
    code="MS111",
    name="exploding-signal",
    level=Level.WARNING,
    summary="static signal propagation predicts a scale above the threshold",
    check=_exploding,
    options={"exploding-scale": 100.0},
    docs=Docs(
        what="Flags a network whose predicted signal scale rises above `exploding-scale` (default 100× the "
        "input's) at some weighted layer's pre-activation, naming the first such layer and the largest scale "
        "reached.",
        why=_BAND_WHY + "A signal that grows geometrically with depth saturates squashing activations, overflows "
        "float16, and makes the first steps of training take huge, unstable updates.",
        example=spec(
            "  - {type: dense, units: 64, activation: relu}\n" * 4
            + "  - {type: dense, units: 10, activation: softmax}\n",
            extra="defaults:\n  kernel_initializer: {type: variance_scaling, scale: 20.0}\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}   # auto: he_normal\n" * 4
            + "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        references="\n".join((doc_parts.GLOROT_2010, doc_parts.HE_2015, doc_parts.SIGNAL_DOC)),
        known_problems="Calibrated on one case only (docs/calibration.md, docs/calibration/fixed_scale.png; "
        "`benchmarks/calibration.py --only fixed`): a depth-8 ReLU MLP on a synthetic task with random_normal "
        "kernels of 10× He's variance (predicted growth 1.4e4× by the last layer) ends at val_loss 356 and "
        "accuracy 0.31 against 0.74 with He, with Adam: degraded, so the warning stands. Where between 1× and that "
        "growth the harm begins, and how it depends on the optimizer, was not measured; float16 overflow is not "
        "covered by the study.",
    ),
)
