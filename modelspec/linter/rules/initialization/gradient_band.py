"""The gradient band: the backward analysis (analysis/gradients.py) predicts that the first layers learn orders of
magnitude slower (MS113) or faster (MS114) than the last one, relative to their weights."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Optional

from modelspec.analysis.gradients import band_references
from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.initializers import CONSTANT, family


def _kernel_ratio(layer, info) -> Optional[float]:
    """The gradient-to-weight ratio of the layer's first kernel whose ratio is known and positive."""
    kernels = info.kernel_variables
    for weight in layer.weights:
        ratio = weight.ratio
        if weight.variable in kernels and ratio is not None and ratio > 0:
            return ratio
    return None


def _judged(subject: Subject) -> list[tuple]:
    """(layer, its kernel's gradient/weight ratio) for every weighted layer the band applies to, in order: not
    constant (MS101's business), gradient known and not zero (a zero kernel downstream blocks it on purpose)."""
    judged = []
    for name, layer in subject.gradients.layers.items():
        info = subject.analysis.layers[name]
        if name not in subject.analysis.weighted or any(family(init) == CONSTANT for _, init in info.kernels()):
            continue
        ratio = _kernel_ratio(layer, info)
        if ratio is not None:
            judged.append((info, ratio))
    return judged


def _gamma_speed(subject: Subject, name: str) -> Optional[float]:
    """The predicted gradient/weight ratio of a layer_scale's γ (None: unknown)."""
    gamma = subject.gradients.layers[name].weight("gamma")
    return None if gamma is None else gamma.ratio


def _relative(subject: Subject, judged: list[tuple], vanishing: bool) -> list[tuple]:
    """(layer, its ratio relative to its reference, the reference's description) for every layer the band judges
    (``band_references``): against the head, or for a layer behind a gate against the last weighted layers before
    its gate."""
    speeds = {info.name: ratio for info, ratio in judged}
    references = band_references(subject.analysis, speeds, lambda name: _gamma_speed(subject, name), vanishing)
    rows = []
    for info, ratio in judged:
        ref = references.get(info.name)
        if ref is not None:
            gates = ", ".join(f"'{g}'" for g in sorted(ref.gates))
            where = f"'{ref.name}', the last weighted layer before the gate {gates}" if gates else ""
            rows.append((info, ratio / ref.speed, where or f"the last weighted layer '{ref.name}'"))
    return rows


def _band(subject: Subject, outside, word: str, bound: float) -> Iterator[Finding]:
    judged = _judged(subject)
    order = {info.name: i for i, (info, _) in enumerate(judged)}
    relative = _relative(subject, judged, word == "vanishing")
    leaving = [row for row in relative if outside(row[1])]
    if not leaving:
        return
    first, factor, reference = leaving[0]
    pick = min if word == "vanishing" else max
    worst, worst_factor, _ = pick(leaving, key=lambda row: row[1])
    depth = 1 + order[first.name]
    extreme = "smallest" if word == "vanishing" else "largest"
    tail = "" if worst is first else f"; {extreme}: {worst_factor:.2g}× at '{worst.name}'"
    pace, verb = ("slower", "vanishes") if word == "vanishing" else ("faster", "explodes")
    loss = subject.gradients.loss or f"{subject.gradients.assumed_loss} (assumed: no training block)"
    yield Finding(
        first.path,
        f"the gradient {verb} towards the inputs: for {loss}, the predicted gradient of '{first.name}' "
        f"(weighted layer {depth}), relative to its weights, is {factor:.2g}× that of {reference}, "
        f"so it learns orders of magnitude {pace} ({'below' if word == 'vanishing' else 'above'} "
        f"{bound:g}){tail}; {len(leaving)} of the {len(relative)} weighted layers before it are outside the band",
        hint=(
            "use ReLU-family activations with `kernel_initializer: auto`, add batch_norm or residual connections; "
            "see docs/signal.md"
            if word == "vanishing"
            else "initialise the last layers for their fan-in (`kernel_initializer: auto`); see docs/signal.md"
        ),
        layer=first.name,
    )


def _vanishing(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    low = options["vanishing-gradient-ratio"]
    yield from _band(subject, lambda factor: factor < low, "vanishing", low)


def _exploding(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    high = options["exploding-gradient-ratio"]
    yield from _band(subject, lambda factor: factor > high, "exploding", high)


_SCALE_INVARIANT = (
    "van Laarhoven (2017), L2 Regularization versus Batch and Weight Normalization. https://arxiv.org/abs/1706.05350",
    "Arora, Li & Lyu (2019), Theoretical Analysis of Auto Rate-Tuning by Batch Normalization, ICLR. "
    "https://arxiv.org/abs/1812.03981",
)

_WHY = (
    "The backward analysis (docs/signal.md) runs the forward laws in reverse from the loss's gradient at a typical "
    "output (p − y for softmax with cross-entropy, 2(ŷ − y)/n for mean squared error), through each activation's "
    "derivative and each kernel's fan-out, and predicts every kernel's gradient at initialisation for a batch of "
    "the spec's `batch_size`. A plain SGD step changes a weight by the learning rate times its gradient, so the "
    "gradient's scale relative to the weight's scale is how fast a layer learns; the rule compares each weighted "
    "layer's with the last one's. A layer whose output only feeds batch or layer normalisation (the convolutions "
    "of ResNet, DenseNet, Inception) is not judged: normalisation makes it scale-invariant, so its gradient is "
    "orthogonal to its weights and scales as 1/|W|, its ratio as 1/|W|², and SGD itself moves |W| (each step "
    "adds to it), which sets that ratio (Arora et al. 2019: auto rate-tuning; van Laarhoven 2017). A layer whose "
    "every route to the output passes through a gate is judged against the last weighted layer before that gate, "
    "not against the head: the broadcast operand of a `multiply` (a squeeze-excite gate, which scales the channels "
    "of a path that carries the signal without it), or a `layer_scale` whose γ learns at least as fast as the "
    "head (ConvNeXt's 1e-6, which one Adam step moves a thousandfold, and the layers behind it with it). Their "
    "ratio against the head measures the gate's starting value, not their pace; against the gate's own last "
    "layer, what vanishes inside the branch still shows. "
)

_GATES_KNOWN = (
    "Gates are recognised by shape and type only: the operand of a `multiply` with fewer elements than the product "
    "(a per-channel gate over positions), and `layer_scale`. An element-wise gate of the same shape (a GLU, an "
    "LSTM-style gate written with layers) is judged against the head like any other layer, and so is a "
    "squeeze-excite gate over 1×1 positions (MobileNetV3Small at a 48×48 input: its last two blocks' gates then have "
    "as many elements as the product, and MS113 fires, 1/258 of the head's as `modelspec probe` measures; at 64×64 "
    "and above it is silent). The gradient of a "
    "broadcast gate sums over the positions it scales; relative to the head, the squeeze-excite kernels of "
    "EfficientNetB0 and MobileNetV3Small are predicted 0.59-1.79× the measured ratio (tools/gradient_band.py: batch"
    " normalisation between the head's pool and the gates leaves the positions' likeness rough); before the sum "
    "over positions was in the law they were 4-60× low, and with every layer judged against the head lint reported "
    "8 of the 21 keras.applications architectures (EfficientNet B0/B1/V2B0/V2S, MobileNetV3 Small/Large, ConvNeXt "
    "Tiny/Small; docs/precision.md). That a `layer_scale` opens fast is measured under Adam only, on one small "
    "ConvNeXt block (test_layers_behind_a_layer_scale_near_zero_leave_their_step_0_ratio_within_one_adam_step: γ "
    "1e-6 → 1e-3 and the ratios behind it up a thousandfold in one step at 1e-3); under plain SGD at a small "
    "learning rate γ opens more slowly, and the layers behind it stay slow longer than judging them against the "
    "gate says. The threshold (0.01) itself was not varied in the calibration: the working keras.applications "
    "architectures and the keras-io corpus give no finding, and the rule's own example (1.2e-4 predicted, 1.4e-4 "
    "measured at the first layer) fires."
)

MS113 = Rule(
    code="MS113",
    name="vanishing-gradient",
    level=Level.WARNING,
    summary="backward analysis predicts the first layers learn orders of magnitude slower than the last",
    check=_vanishing,
    options={"vanishing-gradient-ratio": 0.01},
    docs=Docs(
        what="Flags a network in which some weighted layer's predicted gradient, relative to its weights, is "
        "below `vanishing-gradient-ratio` (default 0.01) times the last weighted layer's, naming the first such "
        "layer and the smallest ratio. Layers whose output only feeds normalisation are not judged; layers "
        "behind a gate (a squeeze-excite branch, the layers before a `layer_scale`) are judged against the last "
        "weighted layer before their gate.",
        why=_WHY
        + "Each sigmoid passes back at most a quarter of the gradient (E[σ'(z)²] ≈ 0.055 at Glorot scale), and "
        "saturated tanh or sigmoid units pass back almost nothing, so the gradient shrinks geometrically towards "
        "the inputs while the activations do not: the first layers stay where they started while the last ones "
        "fit. Adam and RMSprop rescale each weight's step and hide part of this, but not the noise it leaves. For "
        "ReLU and linear layers the forward and backward scales cancel in this ratio, which is why a 30-layer ReLU "
        "network with Glorot init is MS110's finding, not this one's. A small ratio on a layer before normalisation "
        "comes from that layer's own weight norm, not from the gradient passed back (which the norm does not "
        "change), and weight decay, batch normalisation's usual companion, brings every such layer to the same "
        "equilibrium step whatever its initial norm; specs/cnn.yaml's first convolution, 0.0048× predicted and "
        "0.017× measured in Keras, is such a layer.",
        example=spec(
            "  - {type: dense, units: 64, activation: sigmoid}\n" * 6
            + "  - {type: dense, units: 10, activation: softmax}\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}   # auto: he_normal\n" * 6
            + "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        references="\n".join((doc_parts.GLOROT_2010, doc_parts.HE_2015, *_SCALE_INVARIANT, doc_parts.SIGNAL_DOC)),
        known_problems="Calibration: docs/calibration.md, MS113's row (`benchmarks/calibration.py --only gradient "
        "--seeds "
        "2`; digits, 12 epochs, 2 seeds): six sigmoid layers of 64 end at 0.221 accuracy under Adam and 0.081 "
        "(chance) under SGD against 0.974 and 0.975 with relu, the hint; four tanh layers at random_normal(0, "
        "1) under SGD at 0.828 against 0.972: degraded where it fired. It also fires on three Glorot/sigmoid "
        "layers (0.808 after 12 epochs, against relu not trained). " + _GATES_KNOWN,
    ),
)

MS114 = Rule(
    code="MS114",
    name="exploding-gradient",
    level=Level.WARNING,
    summary="backward analysis predicts the first layers learn orders of magnitude faster than the last",
    check=_exploding,
    options={"exploding-gradient-ratio": 100.0},
    docs=Docs(
        what="Flags a network in which some weighted layer's predicted gradient, relative to its weights, is "
        "above `exploding-gradient-ratio` (default 100) times the last weighted layer's, naming the first such "
        "layer and the largest ratio. Layers whose output only feeds normalisation are not judged; layers "
        "behind a gate are judged against the last weighted layer before their gate, as in MS113.",
        why=_WHY + "When the last layers' weights are far too large, the gradient they pass back is multiplied by "
        "them: the first layers take steps that are huge for their weights, and a learning rate small enough for "
        "them leaves the last layers barely moving. In feed-forward networks at initialisation this comes from "
        "badly scaled output layers; recurrent layers are not modelled backwards yet. Before normalisation a large "
        "ratio corrects itself in one step: the step is orthogonal to the weights, so it grows |W| by about the "
        "learning rate times the ratio and divides the ratio by that factor squared. ResNet50's Glorot stem "
        "(measured in Keras at 32×32: 193–251× the last layer's) is at 1.2× after one SGD step at 0.01 and "
        "0.2–0.4× after five; that is why keras.applications models are not reported.",
        example=spec(
            "  - {type: dense, units: 64, activation: relu}\n" * 3
            + "  - type: dense\n    units: 10\n    activation: softmax\n"
            + "    kernel_initializer: {type: variance_scaling, scale: 2000.0}\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}\n" * 3
            + "  - {type: dense, units: 10, activation: softmax}   # auto: glorot_uniform\n"
        ),
        references="\n".join((doc_parts.GLOROT_2010, doc_parts.HE_2015, *_SCALE_INVARIANT, doc_parts.SIGNAL_DOC)),
        known_problems="Calibration: docs/calibration.md, MS114's row (`benchmarks/calibration.py --only gradient "
        "--seeds "
        "2`; digits, 12 epochs, 2 seeds): a ReLU MLP of 3 × 64 whose softmax head is variance_scaling(2000) "
        "(the rule's fixture) ends at val_loss 0.265 against 0.089 and needs 2.25× the epochs of "
        "glorot_uniform's head to reach the target: degraded. "
        "Recurrent and attention layers are not modelled backwards, so a recurrent network's "
        "exploding gradient is not found. Gates are recognised as in MS113 (its Known problems). The threshold "
        "(100) was not varied in the calibration; a large ratio before "
        "normalisation is not judged because it corrects itself in one SGD step (measured: docs/signal.md).",
    ),
)
