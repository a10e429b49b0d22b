"""Constant initializers: a constant kernel on a hidden layer (MS101) and a large constant bias (MS112)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.linter.rules.initialization.shared import describe
from modelspec.schema.activations import ACTIVATIONS, SATURATING
from modelspec.schema.initializers import CONSTANT, family


def _units(info) -> str:
    shape = info.output_shape
    return f"{shape[-1]} " if shape and shape[-1] else ""


def _constant_value(init) -> float:
    return {"zeros": 0.0, "ones": 1.0}.get(init.type, getattr(init, "value", 0.0))


# --- MS101 ---------------------------------------------------------------------------------------------------


def _ends_residual_branch(subject: Subject, name: str) -> bool:
    after = subject.analysis.next_layers(name)
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


def _symmetric(info, slot: str) -> bool:
    """Whether the slot's kernel has units that a constant start makes identical: several outputs that sum the
    same inputs. A depthwise kernel's outputs each sum their own channel, and a single unit has no twin."""
    units = info.output_shape[-1] if info.output_shape else None
    return slot not in info.spec.core.PER_CHANNEL_SLOTS and units != 1


def _constant_hidden_kernel(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        for slot, init in info.kernels():
            if family(init) != CONSTANT:
                continue
            later = subject.analysis.weighted_after(info.name)
            value = _constant_value(init)
            if not later or (value == 0 and _ends_residual_branch(subject, info.name)):
                continue
            message = _constant_message(subject, info, slot, init, value, later)
            if message is None:
                continue
            yield Finding(
                subject.field_path(info, slot),
                message,
                hint=f"use `{slot}: auto` (He or Glorot, chosen from the activation); zeros belong on the "
                "output layer or on the last layer of a residual branch",
                layer=info.name,
            )


def _constant_message(subject: Subject, info, slot: str, init, value: float, later: list[str]):
    """What a constant kernel does to the layer, or None when it is harmless (no units to be symmetric)."""
    what = f"{slot.removesuffix('_initializer').replace('_', ' ')} of '{info.name}' is {describe(init)}"
    bias = _bias_value(info)
    activation = info.feeds
    if value == 0 and bias is not None and bias <= 0 and _dead(activation, bias):
        return (
            f"{what}: with {activation} and a bias of {bias:g}, its {_units(info)}units output 0 "
            f"and get zero gradient, so they never learn"
        )
    if not _symmetric(info, slot):
        return None
    if all(any(family(i) == CONSTANT for _, i in subject.analysis.layers[n].kernels()) for n in later):
        return (
            f"{what}, and every weighted layer after it starts constant too: its {_units(info)}units "
            f"stay identical for ever (symmetry is never broken)"
        )
    return f"{what}: its {_units(info)}units start identical, and only the random layers after it can tell them apart"


MS101 = Rule(
    code="MS101",
    name="constant-hidden-kernel",
    level=Level.ERROR,
    summary="zeros/ones/constant kernel on a hidden layer: its units start identical",
    check=_constant_hidden_kernel,
    docs=Docs(
        what="Flags a constant kernel (zeros, ones, constant) on a hidden layer, one whose output reaches another "
        "weighted layer. The message says how bad it is: with ReLU and a non-positive bias the units are dead; "
        "when every weighted layer after it is constant too, the units stay identical for ever. Not flagged: "
        "zeros on the output layer or on the only weighted layer (softmax regression trains fine from zeros), "
        "zeros on the last layer of a residual branch that feeds an `add` (the block starts as the "
        "identity), and a constant that leaves no units to be symmetric: a depthwise kernel (each output "
        "sums its own channel, as in a per-channel scale) or a single unit, unless it makes them dead.",
        why="Units with identical incoming weights compute the same function and receive the same gradient from a "
        "constant layer after them: a layer of 64 such units is worth one. With ReLU and a zero bias, a zero "
        "kernel outputs exactly 0, where ReLU's gradient is 0, so the kernel never moves at all. Symmetry needs "
        "units that see the same inputs: the outputs of a depthwise kernel each see their own channel, so a "
        "constant there (a per-channel scale, better written `type: layer_scale`) is a legitimate start.",
        example=spec(
            "  - {type: dense, units: 64, activation: relu, kernel_initializer: zeros}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}   # auto: he_normal\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        known_problems="Calibrated (docs/calibration.md, MS101's row; `benchmarks/calibration.py --only constant "
        "--seeds 2`; "
        "digits, 12 epochs, 2 seeds): a ReLU MLP of 2 × 64 with zeros, ones or constant(0.05) hidden kernels "
        "ends at 0.081, 0.106 and 0.250 validation accuracy against auto's 0.972 and never reaches 90% of it: "
        "an error. Only dense hidden layers under Adam were trained.",
        references="\n".join((doc_parts.GLOROT_2010, doc_parts.GOYAL_2017, doc_parts.KERAS_INIT)),
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
            yield Finding(
                subject.field_path(info, "bias_initializer"),
                f"the bias of '{info.name}' starts at {value:g} in every unit: it shifts every "
                f"pre-activation by as much as the whole signal ({info.feeds} "
                f"{'saturates' if ACTIVATIONS[info.feeds].family == SATURATING else 'is shifted'})",
                hint="start biases at zero (`bias_initializer: zeros`)",
                layer=info.name,
            )


MS112 = Rule(
    code="MS112",
    name="large-constant-bias",
    level=Level.INFO,
    summary="constant bias init with |value| ≥ 1",
    check=_large_constant_bias,
    options={"large-bias": 1.0},
    docs=Docs(
        what="Flags a constant bias initializer (ones, constant) whose value is at least `large-bias` (default 1) "
        "in absolute value. LSTM's forget-gate bias (unit_forget_bias) is not a bias initializer and is fine.",
        why="Pre-activations of a well-initialised layer have a scale of about 1; a bias of the same size moves "
        "every unit to one side of the activation: sigmoid and tanh saturate, ReLU units all start active (or, "
        "negative, all dead).",
        example=spec(
            "  - {type: dense, units: 64, activation: relu, bias_initializer: ones}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}   # bias: zeros\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        references=doc_parts.KERAS_INIT,
    ),
)
