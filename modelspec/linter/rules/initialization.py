"""Initialization rules (MS101–MS112): how each layer's weights start, and what that does to the signal."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from modelspec.analysis.fans import effective_fan_in
from modelspec.analysis.moments import initializer_moments
from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import _docs
from modelspec.linter.rules._docs import spec
from modelspec.schema.activations import ACTIVATIONS, RELU_FAMILY, SATURATING, SELU
from modelspec.schema.base import type_name
from modelspec.schema.layers.base import Role
from modelspec.schema.initializers import (CONSTANT, FIXED_SCALE, GLOROT, HE, IDENTITY, LECUN, ORTHOGONAL,
                                           SCALED_MODELS, family)

def describe(init) -> str:
    """Render an initializer the way a spec writes it: ``he_normal``, ``random_normal(stddev=1.0)``."""
    params = init.model_dump(exclude={"type", "seed"}, exclude_defaults=True)
    if not params:
        return init.type
    return f"{init.type}(" + ", ".join(f"{key}={value}" for key, value in params.items()) + ")"


def _units(info) -> str:
    shape = info.output_shape
    return f"{shape[-1]} " if shape and shape[-1] else ""


def _constant_value(init) -> float:
    return {"zeros": 0.0, "ones": 1.0}.get(init.type, getattr(init, "value", 0.0))


# --- MS101 ---------------------------------------------------------------------------------------------------

def _weighted_after(subject: Subject, name: str) -> list[str]:
    """The weighted layers that ``name``'s output reaches."""
    found, stack, seen = [], list(subject.analysis.layers[name].consumers), set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in subject.weighted:
            found.append(current)
        stack.extend(subject.analysis.layers[current].consumers)
    return found


def _ends_residual_branch(subject: Subject, name: str) -> bool:
    after = subject.next_layers(name)
    return bool(after) and all(info.type == "add" and len(info.inputs) > 1 for info in after)


def _dead(activation: str, bias: float) -> bool:
    """Whether the activation has zero slope just below ``bias``: units stuck there get no gradient."""
    fn = ACTIVATIONS[activation].fn
    return fn is not None and fn(bias) == fn(bias - 1e-6) and fn(bias) == fn(bias - 1e-3)


def _bias_value(info):
    if not getattr(info.spec.core, "use_bias", False):
        return 0.0
    bias = info.initializers.get("bias_initializer")
    return _constant_value(bias) if bias is not None and family(bias) == CONSTANT else None


def _constant_hidden_kernel(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        for slot, init in subject.kernels(info):
            if family(init) != CONSTANT:
                continue
            later = _weighted_after(subject, info.name)
            value = _constant_value(init)
            if not later or (value == 0 and _ends_residual_branch(subject, info.name)):
                continue
            what = f"{slot.removesuffix('_initializer').replace('_', ' ')} of '{info.name}' is {describe(init)}"
            bias = _bias_value(info)
            activation = info.feeds
            if value == 0 and bias is not None and bias <= 0 and _dead(activation, bias):
                message = (f"{what}: with {activation} and a bias of {bias:g}, its {_units(info)}units output 0 "
                           f"and get zero gradient, so they never learn")
            elif all(any(family(i) == CONSTANT for _, i in subject.kernels(subject.analysis.layers[n]))
                     for n in later):
                message = (f"{what}, and every weighted layer after it starts constant too: its {_units(info)}units "
                           f"stay identical for ever (symmetry is never broken)")
            else:
                message = (f"{what}: its {_units(info)}units start identical, and only the random layers after it "
                           f"can tell them apart")
            yield Finding(subject.field_path(info, slot), message,
                          hint=f"use `{slot}: auto` (He or Glorot, chosen from the activation); zeros belong on the "
                               "output layer or on the last layer of a residual branch",
                          layer=info.name)


MS101 = Rule(
    code="MS101", name="constant-hidden-kernel", level=Level.ERROR,
    summary="zeros/ones/constant kernel on a hidden layer: its units start identical",
    check=_constant_hidden_kernel,
    docs=Docs(
        what="Flags a constant kernel (zeros, ones, constant) on a hidden layer, one whose output reaches another "
             "weighted layer. The message says how bad it is: with ReLU and a non-positive bias the units are dead; "
             "when every weighted layer after it is constant too, the units stay identical for ever. Not flagged: "
             "zeros on the output layer or on the only weighted layer (softmax regression trains fine from zeros), "
             "and zeros on the last layer of a residual branch that feeds an `add` (the block starts as the "
             "identity).",
        why="Units with identical incoming weights compute the same function and receive the same gradient from a "
            "constant layer after them: a layer of 64 such units is worth one. With ReLU and a zero bias, a zero "
            "kernel outputs exactly 0, where ReLU's gradient is 0, so the kernel never moves at all.",
        example=spec("  - {type: dense, units: 64, activation: relu, kernel_initializer: zeros}\n"
                     "  - {type: dense, units: 10, activation: softmax}\n"),
        use_instead=spec("  - {type: dense, units: 64, activation: relu}   # auto: he_normal\n"
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references="\n".join((_docs.GLOROT_2010, _docs.GOYAL_2017, _docs.KERAS_INIT)),
    ),
)


# --- MS102, MS103, MS104: the initializer's family against the activation it feeds --------------------------

def _family_mismatch(subject: Subject, families: tuple[str, ...], activations: tuple[str, ...]):
    for info in subject.analysis.layers.values():
        activation = info.feeds
        if ACTIVATIONS[activation].family not in activations:
            continue
        for slot, init in subject.kernels(info):
            if family(init) in families and slot not in info.auto_slots:
                yield info, slot, init, activation


def _he_on_saturating(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info, slot, init, activation in _family_mismatch(subject, (HE,), (SATURATING,)):
        yield Finding(subject.field_path(info, slot),
                      f"'{info.name}' initialises its {slot.removesuffix('_initializer')} with {describe(init)} (He) "
                      f"but feeds {activation}: He's variance 2/fan_in is sized for ReLU, which discards half the "
                      f"signal, and drives {activation} into saturation",
                      hint=f"use glorot_uniform (or `{slot}: auto`) before {activation}", layer=info.name)


MS102 = Rule(
    code="MS102", name="he-on-saturating", level=Level.WARNING,
    summary="He-family init feeding sigmoid, tanh, softmax, hard_sigmoid or softsign",
    check=_he_on_saturating,
    docs=Docs(
        what="Flags a kernel initialised from the He family (he_normal, he_uniform, or variance_scaling with "
             "scale 2 and mode fan_in, in any spelling) on a layer whose output feeds a saturating activation: "
             "sigmoid, tanh, softmax, hard_sigmoid or softsign.",
        why="He et al. doubled Glorot's variance because ReLU zeroes half of its input. A saturating activation "
            "keeps both halves, so the doubled variance pushes pre-activations into the flat tails where the "
            "gradient vanishes; for tanh the variance grows layer after layer instead of staying put.",
        example=spec("  - {type: dense, units: 64, activation: tanh, kernel_initializer: he_normal}\n"
                     "  - {type: dense, units: 10, activation: softmax}\n"),
        use_instead=spec("  - {type: dense, units: 64, activation: tanh, kernel_initializer: glorot_uniform}\n"
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references="\n".join((_docs.GLOROT_2010, _docs.HE_2015)),
    ),
)


def _glorot_on_relu(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info, slot, init, activation in _family_mismatch(subject, (GLOROT, LECUN), (RELU_FAMILY,)):
        kind = "Glorot" if family(init) == GLOROT else "LeCun"
        yield Finding(subject.field_path(info, slot),
                      f"'{info.name}' initialises its {slot.removesuffix('_initializer')} with {describe(init)} "
                      f"({kind}) but feeds {activation}: {activation} discards about half of the signal's second "
                      f"moment, so each such layer shrinks it by about half",
                      hint=f"use he_normal (or `{slot}: auto`) before {activation}", layer=info.name)


MS103 = Rule(
    code="MS103", name="glorot-on-relu", level=Level.INFO,
    summary="Glorot/LeCun-family init feeding the ReLU family",
    check=_glorot_on_relu,
    docs=Docs(
        what="Flags a kernel initialised from the Glorot or LeCun family (glorot_*, lecun_*, or the matching "
             "variance_scaling) on a layer whose output feeds a ReLU-family activation (relu, relu6, leaky_relu, "
             "elu, gelu, silu, mish).",
        why="Glorot and LeCun keep the variance of a linear (or tanh-like) layer. ReLU zeroes the negative half, so "
            "the second moment halves at every layer: after 10 layers the signal is 1/32 of its size and after 30 "
            "it is lost (MS110 reports when that happens). Shallow networks train anyway, hence info.",
        example=spec("  - {type: dense, units: 64, activation: relu, kernel_initializer: glorot_uniform}\n"
                     "  - {type: dense, units: 10, activation: softmax}\n"),
        use_instead=spec("  - {type: dense, units: 64, activation: relu, kernel_initializer: he_normal}\n"
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references="\n".join((_docs.HE_2015, _docs.GLOROT_2010)),
    ),
)


def _selu_needs_lecun(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        if ACTIVATIONS[info.feeds].family == SELU:
            for slot, init in subject.kernels(info):
                if family(init) != LECUN:
                    yield Finding(subject.field_path(info, slot),
                                  f"'{info.name}' feeds selu but initialises its {slot.removesuffix('_initializer')} "
                                  f"with {describe(init)}: SELU self-normalises only from variance 1/fan_in",
                                  hint=f"use lecun_normal (or `{slot}: auto`)", layer=info.name)
        if info.spec.applied_activation() == "selu":
            for after in subject.next_layers(info.name, stop_at=frozenset({"dropout"})):
                if after.type == "dropout":
                    yield Finding(after.path + ("type",),
                                  f"plain dropout after the selu of '{info.name}' shifts the mean and variance that "
                                  f"SELU keeps at 0 and 1",
                                  hint="use `type: alpha_dropout`, which keeps them", layer=after.name)


MS104 = Rule(
    code="MS104", name="selu-needs-lecun", level=Level.WARNING,
    summary="selu without LeCun init, or selu followed by plain dropout",
    check=_selu_needs_lecun,
    docs=Docs(
        what="Flags a layer feeding selu whose kernel is not LeCun-initialised (lecun_normal, lecun_uniform or "
             "variance_scaling with scale 1 and fan_in), and plain `dropout` right after a selu.",
        why="SELU's self-normalising fixed point (mean 0, variance 1) holds only when the weights have variance "
            "1/fan_in. Dropout sets values to 0, which is not SELU's mean for negative saturation, and rescales the "
            "rest: the activations drift away from the fixed point. alpha_dropout was designed to keep it.",
        example=spec("  - {type: dense, units: 64, activation: selu, kernel_initializer: he_normal}\n"
                     "  - {type: dropout, rate: 0.1}\n"
                     "  - {type: dense, units: 10, activation: softmax}\n"),
        use_instead=spec("  - {type: dense, units: 64, activation: selu, kernel_initializer: lecun_normal}\n"
                         "  - {type: alpha_dropout, rate: 0.1}\n"
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references=_docs.KLAMBAUER_2017,
    ),
)


# --- MS105, MS106: the distribution's moments -----------------------------------------------------------------

def _kernel_shapes(info) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for variable in info.variables or ():
        if variable.slot and variable.slot not in shapes:
            shapes[variable.slot] = variable.shape
    return shapes


def _nonzero_mean_kernel(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    limit = options["mean-to-std"]
    for info in subject.analysis.layers.values():
        shapes = _kernel_shapes(info)
        for slot, init in subject.kernels(info):
            if slot not in shapes or family(init) == IDENTITY:
                continue
            mean, var = initializer_moments(init, shapes[slot])
            std = math.sqrt(var)
            if mean == 0 or (std > 0 and abs(mean) < limit * std):
                continue
            spread = f"{abs(mean) / std:.3g}× its standard deviation {std:.3g}" if std else "and no spread at all"
            yield Finding(subject.field_path(info, slot),
                          f"{describe(init)} gives the {slot.removesuffix('_initializer')} of '{info.name}' a mean of "
                          f"{mean:.3g}, {spread}: every unit starts with the same large weighted sum of its inputs",
                          hint=f"use a zero-mean initializer (`{slot}: auto`)", layer=info.name)


MS105 = Rule(
    code="MS105", name="nonzero-mean-kernel", level=Level.WARNING,
    summary="a kernel distribution whose mean is far from zero (uniform [0, 1], ones...)",
    check=_nonzero_mean_kernel,
    options={"mean-to-std": 1.0},
    docs=Docs(
        what="Flags a kernel initializer whose mean is at least `mean-to-std` (default 1) times its standard "
             "deviation: random_uniform on [0, 1], random_normal with a large mean, ones, a non-zero constant.",
        why="A weighted sum of n inputs adds the mean n times but the spread only √n times. With a mean as large as "
            "the spread, every unit of the layer computes nearly the same sum, the pre-activations grow with the "
            "fan-in, and the units start almost as alike as with a constant kernel.",
        example=spec("  - type: dense\n    units: 64\n    activation: relu\n"
                     "    kernel_initializer: {type: random_uniform, minval: 0.0, maxval: 1.0}\n"
                     "  - {type: dense, units: 10, activation: softmax}\n"),
        use_instead=spec("  - type: dense\n    units: 64\n    activation: relu\n"
                         "    kernel_initializer: he_uniform\n"
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references="\n".join((_docs.GLOROT_2010, _docs.KERAS_INIT)),
    ),
)


_AUTO_SCALES = {type_name(model): model.SCALING[0] for model in SCALED_MODELS}


def needed_scale(activation: str) -> float:
    """The variance × fan-in an activation needs: the scale of the initializer `auto` gives it (He 2, else 1)."""
    return _AUTO_SCALES.get(ACTIVATIONS[activation].auto_initializer, 1.0)


def _fixed_scale_mismatch(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    limit = options["fixed-scale-factor"]
    for info in subject.analysis.layers.values():
        shapes = _kernel_shapes(info)
        slots = list(subject.kernels(info))
        if "recurrent_initializer" in info.initializers:
            slots.append(("recurrent_initializer", info.initializers["recurrent_initializer"]))
        for slot, init in slots:
            if family(init) != FIXED_SCALE or slot not in shapes:
                continue
            n = effective_fan_in(info, slot)
            if not n:
                continue
            var = initializer_moments(init, shapes[slot])[1]
            activation = "linear" if slot == "recurrent_initializer" else info.feeds
            needed = 1.0 if slot == "recurrent_initializer" else needed_scale(activation)
            ratio = var * n / needed
            if 1 / limit < ratio < limit:
                continue
            how = f"{ratio:.3g}× more than" if ratio >= 1 else f"{1 / ratio:.3g}× less than"
            target = math.sqrt(needed / n)
            knob = (f"stddev ≈ {target:.3g}" if init.type != "random_uniform" else
                    f"minval/maxval ≈ ±{math.sqrt(3) * target:.3g}")
            auto = "orthogonal" if slot == "recurrent_initializer" else ACTIVATIONS[activation].auto_initializer
            yield Finding(subject.field_path(info, slot),
                          f"{describe(init)} on {n:g} inputs of '{info.name}' gives variance × fan-in = "
                          f"{var:.3g} × {n:g} = {var * n:.3g}, {how} the {needed:g} that {activation} needs: the "
                          f"signal's second moment is multiplied by about {ratio:.3g} at this layer",
                          hint=f"use {auto} (`{slot}: auto`), or {knob}", layer=info.name)


MS106 = Rule(
    code="MS106", name="fixed-scale-mismatch", level=Level.WARNING,
    summary="a fixed-scale distribution whose variance × fan-in is far from what the activation needs",
    check=_fixed_scale_mismatch,
    options={"fixed-scale-factor": 10.0},
    docs=Docs(
        what="Flags random_normal, truncated_normal and random_uniform kernels whose variance × fan-in is at least "
             "`fixed-scale-factor` (default 10) times more or less than what the activation needs: 2 for the ReLU "
             "family (He), 1 otherwise (Glorot/LeCun). The fan-in is what each output really sums (receptive field "
             "× channels for convolutions). The message states the factor.",
        why="A fixed standard deviation ignores the layer's width. random_normal(stddev=1.0) on 784 inputs makes "
            "pre-activations with a second moment of 784 — a factor of 392 over what ReLU needs — and every such "
            "layer multiplies the error again; too small a stddev shrinks the signal the same way.",
        example=spec("  - type: dense\n    units: 256\n    activation: relu\n"
                     "    kernel_initializer: {type: random_normal, stddev: 0.2}\n"
                     "  - {type: dense, units: 10, activation: softmax}\n", input_shape="[784]"),
        use_instead=spec("  - type: dense\n    units: 256\n    activation: relu\n"
                         "    kernel_initializer: he_normal   # stddev sqrt(2/784) = 0.05\n"
                         "  - {type: dense, units: 10, activation: softmax}\n", input_shape="[784]"),
        references="\n".join((_docs.HE_2015, _docs.GLOROT_2010, _docs.SIGNAL_DOC)),
    ),
)


# --- MS107, MS108, MS109 ---------------------------------------------------------------------------------------

def _recurrent_not_orthogonal(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        init = info.initializers.get("recurrent_initializer")
        if init is None or family(init) in (ORTHOGONAL, IDENTITY):
            continue
        yield Finding(subject.field_path(info, "recurrent_initializer"),
                      f"the recurrent kernel of '{info.name}' is {describe(init)}: applied at every time step, "
                      f"a non-orthogonal matrix stretches some directions and shrinks others exponentially",
                      hint="use orthogonal (`recurrent_initializer: auto`)", layer=info.name)


MS107 = Rule(
    code="MS107", name="recurrent-not-orthogonal", level=Level.INFO,
    summary="recurrent kernel not orthogonal",
    check=_recurrent_not_orthogonal,
    docs=Docs(
        what="Flags a recurrent layer (lstm, gru, simple_rnn, also inside bidirectional) whose recurrent kernel is "
             "neither orthogonal nor identity.",
        why="The recurrent kernel multiplies the state once per time step, so over T steps its singular values are "
            "raised to the power T: any above 1 explode and any below 1 vanish. An orthogonal matrix has all "
            "singular values equal to 1 (Saxe et al.); identity, for ReLU RNNs (Le et al.), is orthogonal too.",
        example=spec("  - {type: lstm, units: 16, recurrent_initializer: glorot_uniform}\n"
                     "  - {type: dense, units: 1, activation: sigmoid}\n", input_shape="[20, 8]"),
        use_instead=spec("  - {type: lstm, units: 16}   # auto: orthogonal\n"
                         "  - {type: dense, units: 1, activation: sigmoid}\n", input_shape="[20, 8]"),
        references="\n".join((_docs.SAXE_2014, _docs.LE_2015)),
    ),
)


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
            yield Finding(path,
                          f"seed {seed} of '{info.name}' {slot.removesuffix('_initializer')} is also the seed of "
                          f"'{first_info.name}' {first_slot.removesuffix('_initializer')} (line {line}): both draw "
                          f"the same random numbers, so their weights start identical",
                          hint="remove the explicit seeds and set the model's `seed:`; modelspec derives a distinct "
                               "seed for every variable from it", layer=info.name)
        if len(reported) == 1 and reported == {("defaults", first_slot)}:
            yield Finding(("defaults", first_slot),
                          f"seed {seed} under `defaults:` is given to the {first_slot.removesuffix('_initializer')} "
                          f"of {len(places)} layers: they all draw the same random numbers",
                          hint="remove the explicit seed and set the model's `seed:`; modelspec derives a distinct "
                               "seed for every variable from it")


MS108 = Rule(
    code="MS108", name="shared-seed", level=Level.ERROR,
    summary="the same explicit seed on several initializers: identical weights",
    check=_shared_seed,
    docs=Docs(
        what="Flags an explicit `seed:` that several initializers share, including one set under `defaults:`.",
        why="A seeded Keras initializer draws the same numbers every time it is called: two layers of the same "
            "shape with the same seed start with identical weights (verified on Keras 3.15), which defeats the "
            "point of random initialisation. The model-level `seed:` gives every variable its own derived seed.",
        example=spec("  - {type: dense, units: 32, activation: relu, kernel_initializer: {type: he_normal, seed: 7}}\n"
                     "  - {type: dense, units: 32, activation: relu, kernel_initializer: {type: he_normal, seed: 7}}\n"
                     "  - {type: dense, units: 10, activation: softmax}\n"),
        use_instead=spec("  - {type: dense, units: 32, activation: relu, kernel_initializer: he_normal}\n"
                         "  - {type: dense, units: 32, activation: relu, kernel_initializer: he_normal}\n"
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references=_docs.KERAS_INIT,
    ),
)


def _unseeded(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    if subject.spec.seed is not None:
        return
    random = any(init.SEEDED and init.seed is None for info in subject.analysis.layers.values()
                 for init in info.initializers.values())
    if random:
        path = ("name",) if ("name",) in subject.document.key_locations else ("modelspec",)
        yield Finding(path, "the spec sets no `seed:`: every build draws different initial weights, so results "
                            "cannot be reproduced",
                      hint="add `seed: 42` (any integer) at the top level")


MS109 = Rule(
    code="MS109", name="unseeded", level=Level.INFO,
    summary="no model seed: builds are not reproducible",
    check=_unseeded,
    docs=Docs(
        what="Flags a spec with random initializers and no top-level `seed:`.",
        why="Without a seed every build starts from different weights, so a training run cannot be repeated and "
            "two runs cannot be compared fairly. With `seed:` set, building twice gives bit-identical weights.",
        example=spec("  - {type: dense, units: 10, activation: softmax}\n", seed=False),
        use_instead=spec("  - {type: dense, units: 10, activation: softmax}\n"),
        references=_docs.KERAS_INIT,
    ),
)


# --- MS110, MS111: the signal analysis ----------------------------------------------------------------------

def _judged(subject: Subject) -> Iterator[tuple]:
    """Yield (layer, predicted scale factor) for every weighted layer whose pre-activation the band applies to:
    not constant (MS101's business), not feeding normalisation (which resets the scale), signal known."""
    for name, predicted in subject.signal.layers.items():
        info = subject.analysis.layers[name]
        if name not in subject.weighted or predicted.factor is None or predicted.pre[1] == 0:
            continue
        if any(family(init) == CONSTANT for _, init in subject.kernels(info)):
            continue
        after = subject.next_layers(name)
        if after and all(a.spec.ROLE is Role.NORMALISER for a in after):
            continue
        yield info, predicted.factor


def _band(subject: Subject, outside, word: str, bound: float) -> Iterator[Finding]:
    judged = list(_judged(subject))
    leaving = [(info, factor) for info, factor in judged if outside(factor)]
    if not leaving:
        return
    first, factor = leaving[0]
    worst, worst_factor = min(leaving, key=lambda pair: pair[1]) if word == "vanishing" else \
        max(leaving, key=lambda pair: pair[1])
    depth = sum(1 for info, _ in judged if info.index <= first.index)
    tail = "" if worst is first else f", and {worst_factor:.2g}× at '{worst.name}'"
    direction = "shrinks" if word == "vanishing" else "grows"
    yield Finding(first.path,
                  f"the signal {direction} through the network: its predicted scale at the pre-activation of "
                  f"'{first.name}' (weighted layer {depth}) is {factor:.2g}× the input's, outside the healthy band "
                  f"({'below' if word == 'vanishing' else 'above'} {bound:g}){tail}",
                  hint="initialise each layer for the activation it feeds (`kernel_initializer: auto`), or add "
                       "batch_norm / layer_norm; see docs/signal.md",
                  layer=first.name)


def _vanishing(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    low = options["vanishing-scale"]
    yield from _band(subject, lambda factor: factor < low, "vanishing", low)


def _exploding(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    high = options["exploding-scale"]
    yield from _band(subject, lambda factor: factor > high, "exploding", high)


_BAND_WHY = ("The analysis (docs/signal.md) propagates the second moment of the activations from the inputs "
             "(assumed standardised) through every layer, using each kernel's fan-in and initializer variance and "
             "each activation's gain, and compares the root mean square of each weighted layer's pre-activation "
             "with the input's. ")

MS110 = Rule(
    code="MS110", name="vanishing-signal", level=Level.WARNING,
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
        example=spec("  - {type: dense, units: 64, activation: relu}\n" * 4 +
                     "  - {type: dense, units: 10, activation: softmax}\n",
                     extra="defaults:\n  kernel_initializer: {type: variance_scaling, scale: 0.1}\n"),
        use_instead=spec("  - {type: dense, units: 64, activation: relu}   # auto: he_normal\n" * 4 +
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references="\n".join((_docs.GLOROT_2010, _docs.HE_2015, _docs.SIGNAL_DOC)),
    ),
)

MS111 = Rule(
    code="MS111", name="exploding-signal", level=Level.WARNING,
    summary="static signal propagation predicts a scale above the threshold",
    check=_exploding,
    options={"exploding-scale": 100.0},
    docs=Docs(
        what="Flags a network whose predicted signal scale rises above `exploding-scale` (default 100× the "
             "input's) at some weighted layer's pre-activation, naming the first such layer and the largest scale "
             "reached.",
        why=_BAND_WHY + "A signal that grows geometrically with depth saturates squashing activations, overflows "
                        "float16, and makes the first steps of training take huge, unstable updates.",
        example=spec("  - {type: dense, units: 64, activation: relu}\n" * 4 +
                     "  - {type: dense, units: 10, activation: softmax}\n",
                     extra="defaults:\n  kernel_initializer: {type: variance_scaling, scale: 20.0}\n"),
        use_instead=spec("  - {type: dense, units: 64, activation: relu}   # auto: he_normal\n" * 4 +
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references="\n".join((_docs.GLOROT_2010, _docs.HE_2015, _docs.SIGNAL_DOC)),
    ),
)


# --- MS112 ---------------------------------------------------------------------------------------------------

def _large_constant_bias(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    limit = options["large-bias"]
    for info in subject.analysis.layers.values():
        init = info.initializers.get("bias_initializer")
        if init is None or not getattr(info.spec.core, "use_bias", False) or family(init) != CONSTANT:
            continue
        value = _constant_value(init)
        if abs(value) >= limit:
            yield Finding(subject.field_path(info, "bias_initializer"),
                          f"the bias of '{info.name}' starts at {value:g} in every unit: it shifts every "
                          f"pre-activation by as much as the whole signal ({info.feeds} "
                          f"{'saturates' if ACTIVATIONS[info.feeds].family == SATURATING else 'is shifted'})",
                          hint="start biases at zero (`bias_initializer: zeros`)", layer=info.name)


MS112 = Rule(
    code="MS112", name="large-constant-bias", level=Level.INFO,
    summary="constant bias init with |value| ≥ 1",
    check=_large_constant_bias,
    options={"large-bias": 1.0},
    docs=Docs(
        what="Flags a constant bias initializer (ones, constant) whose value is at least `large-bias` (default 1) "
             "in absolute value. LSTM's forget-gate bias (unit_forget_bias) is not a bias initializer and is fine.",
        why="Pre-activations of a well-initialised layer have a scale of about 1; a bias of the same size moves "
            "every unit to one side of the activation: sigmoid and tanh saturate, ReLU units all start active (or, "
            "negative, all dead).",
        example=spec("  - {type: dense, units: 64, activation: relu, bias_initializer: ones}\n"
                     "  - {type: dense, units: 10, activation: softmax}\n"),
        use_instead=spec("  - {type: dense, units: 64, activation: relu}   # bias: zeros\n"
                         "  - {type: dense, units: 10, activation: softmax}\n"),
        references=_docs.KERAS_INIT,
    ),
)
