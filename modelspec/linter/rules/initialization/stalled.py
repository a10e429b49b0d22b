"""Stalled updates (MS116): the optimizer's first steps, predicted from the spec's learning rate and the backward
analysis (analysis/gradients.py), change every weighted layer by a negligible fraction of its weights."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Optional

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.initializers import CONSTANT, family

# Optimizers that divide each step by a running root mean square of the gradient: a step of about the learning
# rate per weight, whatever the gradient's scale (Kingma & Ba 2015, section 2.1).
NORMALISED_STEP = frozenset({"adam", "adamw", "nadam", "rmsprop"})


def relative_step(optimizer, gradient_rms: float, weight_rms: float) -> Optional[float]:
    """How much one early step of ``optimizer`` changes a weight, relative to the weight's scale: lr × g/w for SGD
    (÷ (1 − momentum) once momentum has built up), lr × g/(g + ε)/w for Adam, Nadam and RMSprop (lr/w unless the
    gradient is near their epsilon), lr × g/√(a + g²)/w for
    Adagrad's first step from accumulator a; None for an optimizer it does not model."""
    lr = optimizer.learning_rate
    if optimizer.type == "sgd":
        return lr * gradient_rms / weight_rms / (1.0 - optimizer.momentum)
    if optimizer.type in NORMALISED_STEP:  # g / (√(g²) + ε): about 1, less for gradients near epsilon
        return lr * gradient_rms / (gradient_rms + optimizer.epsilon) / weight_rms
    if optimizer.type == "adagrad":
        return lr * gradient_rms / math.sqrt(optimizer.initial_accumulator_value + gradient_rms**2) / weight_rms
    return None


def _steps(subject: Subject) -> list[tuple]:
    """(layer, its kernel's predicted relative step) for every weighted layer whose kernel's gradient is known,
    not constant (MS101's business) and not feeding normalisation only (its step sets its own rate)."""
    optimizer = subject.spec.training.optimizer
    found = []
    for name, layer in subject.gradients.layers.items():
        info = subject.analysis.layers[name]
        if name not in subject.analysis.weighted or subject.analysis.normalised(name):
            continue
        if any(family(init) == CONSTANT for _, init in info.kernels()):
            continue
        kernel = next(
            (w for w in layer.weights if w.variable in info.kernel_variables and w.ratio is not None and w.ratio > 0),
            None,
        )
        step = relative_step(optimizer, kernel.gradient_rms, kernel.weight_rms) if kernel is not None else None
        if step is not None:
            found.append((info, step))
    return found


def _stalled_updates(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    if training is None:
        return
    threshold = options["stalled-update-ratio"]
    steps = _steps(subject)
    if not steps or any(step >= threshold for _, step in steps):
        return
    fastest, largest = max(steps, key=lambda pair: pair[1])
    optimizer = training.optimizer
    law = (
        "learning rate × gradient/weight"
        if optimizer.type in ("sgd", "adagrad")
        else f"{optimizer.type} steps each weight by about the learning rate, so learning rate/weight"
    )
    path = ("training", "optimizer", "learning_rate")
    if path not in subject.document.key_locations:
        path = ("training", "optimizer")
    if optimizer.type in NORMALISED_STEP:
        hint = f"raise the learning rate ({optimizer.type} usually trains at {type(optimizer).START_LEARNING_RATE:g})"
    else:
        hint = (
            "initialise each layer for its activation (`kernel_initializer: auto`) or add batch_norm, so the "
            "gradients are not uniformly tiny; or use adam, whose step does not shrink with the gradient"
        )
    yield Finding(
        path,
        f"updates stall everywhere: with {optimizer.type} at learning rate {optimizer.learning_rate:g}, the first "
        f"steps are predicted to change every one of the {len(steps)} weighted layers by less than {threshold:g} "
        f"of its weights ({law}); the largest, at '{fastest.name}', is {largest:.2g}, so nothing learns at this "
        f"pace",
        hint=hint,
        layer=fastest.name,
    )


MS116 = Rule(
    code="MS116",
    name="stalled-updates",
    level=Level.WARNING,
    summary="the optimizer's predicted step is negligible against every layer's weights",
    check=_stalled_updates,
    options={"stalled-update-ratio": 1e-5},
    docs=Docs(
        what="Flags a spec in which the optimizer's first steps are predicted to change every weighted layer by "
        "less than `stalled-update-ratio` (default 1e-5) of its weights. The step of each kernel relative to its "
        "weights is predicted from the spec's learning rate and the backward analysis (docs/signal.md): for "
        "SGD, learning rate × gradient/weight (÷ (1 − momentum)); for Adam, AdamW, Nadam and RMSprop, which "
        "divide the step by the gradient's running RMS, learning rate/weight; for Adagrad, its first step. "
        "Layers whose output only feeds normalisation and constant kernels are not judged.",
        why="MS113 and MS114 compare the layers with each other, so a network in which every layer is equally "
        "stalled passes them: a 40-layer Glorot/ReLU stack halves the signal's second moment at each layer going "
        "forward and the gradient's going back, so every kernel's gradient/weight ratio is about 2^−20 ≈ 1e-6 of a "
        "healthy one's, the same for the first layer as for the last. With plain SGD the step is proportional to "
        "the gradient, so every weight moves by a millionth of what it should, and the loss stays flat for "
        "any practical training budget. Adam's step does not shrink with the gradient (it divides by its RMS), "
        "so under Adam the rule only fires when the learning rate itself is negligible against the weights; "
        "the same stack under Adam still fails, for another reason: its forward signal vanishes, so the output "
        "does not depend on the input (MS110's finding).",
        example=spec(
            "  - {type: dense, units: 64, activation: tanh}\n" * 2
            + "  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: {type: sgd, learning_rate: 0.0001}\n"
            "  loss: sparse_categorical_crossentropy\n  batch_size: 256\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: tanh}\n" * 2
            + "  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: {type: adam, learning_rate: 0.001}\n"
            "  loss: sparse_categorical_crossentropy\n  batch_size: 256\n",
        ),
        references="\n".join((doc_parts.GLOROT_2010, doc_parts.HE_2015, doc_parts.KINGMA_2015, doc_parts.SIGNAL_DOC)),
        known_problems="Calibration: docs/calibration.md, MS116's row (the studies: docs/calibration-new-rules.md). "
        "The prediction is for the first steps only: a network that starts slowly may speed up "
        "as its weights grow (a scale-invariant layer does, which is why layers feeding normalisation are not "
        "judged), and learning-rate warm-up or a schedule is not modelled (the rate judged is the initial one). "
        "Adam's step is taken as lr × g/(g + ε) per weight, which holds once its moment estimates have "
        "settled: Keras adds epsilon (1e-7) to the bias-corrected RMS, which in the first steps makes it "
        "ε/√(1 − β₂ᵗ), 3.2e-6 at step 1, so gradients of 1e-8 (the 40-layer stack's) move by 3e-5 of each kernel "
        "at step 1, measured, against lr × g/(g + ε) ≈ 1e-3 predicted; the rule judges the settled step. On the "
        "40-layer Glorot/ReLU stack the predicted SGD "
        "step (2e-9 of each kernel) is 5-10× the one a real Keras step measures (tests/test_new_rules.py): the "
        "backward analysis is rough at that depth, which does not matter four orders of magnitude below the "
        "threshold. Measured on the digits (benchmarks/calibrate_new_rules.py, "
        "docs/calibration-new-rules.md, 2 seeds): the 40-layer Glorot/ReLU stack under SGD 0.01 stays at chance "
        "(0.081 validation accuracy after 10 epochs) where He initialisation reaches 0.314; two tanh layers under "
        "SGD 1e-4 at batch 256 (steps of 5e-6) stay at 0.093 where Adam reaches 0.942. Under Adam the 40-layer "
        "stack stays at chance too (0.081), unflagged by this rule (MS110 reports it).",
    ),
)
