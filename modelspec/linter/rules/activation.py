"""Activation and structure rules (MS201–MS204): where the non-linearities are, and where they are missing."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Optional

from modelspec.analysis.shapes import per_axis
from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.layers.base import Role


def _activation_path(subject: Subject, info) -> tuple:
    path = info.path + ("activation",)
    return path if path in subject.document.key_locations else info.path


_UNBOUNDED = (-math.inf, math.inf)
# The interval each activation leaves unchanged, and the interval each one's outputs lie in (unbounded when not
# listed). An activation applied to values it leaves unchanged is an exact no-op: relu after relu or sigmoid,
# relu6 after sigmoid, hard_tanh after tanh.
_IDENTITY_ON = {"relu": (0.0, math.inf), "relu6": (0.0, 6.0), "hard_tanh": (-1.0, 1.0)}
_OUTPUT_RANGE = {
    "relu": (0.0, math.inf),
    "relu6": (0.0, 6.0),
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "softmax": (0.0, 1.0),
    "softplus": (0.0, math.inf),
    "exponential": (0.0, math.inf),
    "tanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
    "hard_tanh": (-1.0, 1.0),
}
# Activations constant on x ≤ 0: after relu (which only zeroes the negatives) the pair is the second alone.
_FLAT_BELOW_ZERO = frozenset({"relu", "relu6"})


def redundant_pair(before: str, after: str) -> bool:
    """Whether applying ``after`` to the outputs of ``before`` computes exactly one of the two activations: the
    second leaves the first's outputs unchanged (relu∘relu = relu, relu∘sigmoid = sigmoid), or the first only
    zeroes what the second flattens anyway (relu6∘relu = relu6)."""
    low, high = _OUTPUT_RANGE.get(before, _UNBOUNDED)
    keep_low, keep_high = _IDENTITY_ON.get(after, (math.inf, -math.inf))
    return keep_low <= low and high <= keep_high or (before == "relu" and after in _FLAT_BELOW_ZERO)


def _double_activation(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        if info.type not in ("activation", "keras") or len(info.inputs) != 1:
            continue
        own = info.spec.applied_activation()
        if own is None or own == "linear":
            continue
        producer = subject.analysis.producer(info.inputs[0])
        before: Optional[str] = producer.spec.applied_activation() if producer is not None else "linear"
        if before is None or before == "linear" or redundant_pair(before, own):
            continue
        yield Finding(
            _activation_path(subject, info),
            f"'{info.name}' applies {own} on top of the {before} of '{producer.name}': the second "
            f"activation only distorts the first",
            hint=f"remove one of them (or set `activation: linear` on '{producer.name}')",
            layer=info.name,
            level=Level.INFO if (before, own) in _HARMLESS_PAIRS else None,
        )


# Pairs calibrated as harmless (docs/calibration.md, MS201's row): tanh on tanh trains as one tanh.
_HARMLESS_PAIRS = frozenset({("tanh", "tanh")})


MS201 = Rule(
    code="MS201",
    name="double-activation",
    level=Level.WARNING,
    summary="a non-linear activation applied on top of another",
    check=_double_activation,
    docs=Docs(
        what="Flags an `activation` layer (or a Keras activation layer such as ReLU) whose input already went "
        "through a non-linear activation, with only shape or dropout layers between them. Not flagged: a pair "
        "that computes exactly one of its two activations, because the second leaves the first's outputs "
        "unchanged (relu after relu, sigmoid or relu6; relu6 after sigmoid; hard_tanh after tanh) or the first "
        "only zeroes what the second flattens anyway (relu6 after relu).",
        why="Usually a leftover: a layer got `activation: softmax` and an `activation` layer was added after it. "
        "softmax after sigmoid or tanh after tanh squeeze the values a second time: softmax over values in "
        "(0, 1) is nearly uniform, and the gradient through both is the product of two derivatives below 1.",
        example=spec(
            "  - {type: dense, units: 64, activation: relu}\n"
            "  - {type: dense, units: 10, activation: sigmoid}\n"
            "  - {type: activation, activation: softmax}\n"
        ),
        # What the fix writes: the layer before the second activation becomes linear, and no layer is removed (a
        # name that `outputs:` or `inputs:` refers to stays); `units: 10, activation: softmax` alone is the same.
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 10, activation: linear}\n"
            "  - {type: activation, activation: softmax}\n"
        ),
        known_problems="Calibration: docs/calibration.md, MS201's row (`benchmarks/calibration.py --only double "
        "--seeds 2`; "
        "digits, 12 epochs, 2 seeds): after a tanh layer of 64, relu ends at val_loss 0.279 and sigmoid at "
        "0.938 against 0.190 without the second activation (degraded), softmax on a sigmoid output at 1.55 "
        "against 0.131 on a linear one (degraded), but tanh on tanh at 0.199 (0.958 accuracy against 0.956): "
        "that pair is reported at info level. "
        "A redundant pair (relu on relu) is not reported at all: it computes exactly one "
        "activation, so training is the same as without the extra layer, and Keras's own examples write it "
        "(keras-io's image_classification_from_scratch and oxford_pets_segmentation start each Xception-style "
        "block with Activation('relu') on a relu output). Only the pairs above were trained; sigmoid on "
        "sigmoid, softsign and the other bounded pairs keep the warning unmeasured. A Keras ReLU layer is read as "
        "plain relu whatever "
        "its max_value, negative_slope or threshold.",
        references=doc_parts.KERAS_INIT.replace(
            "initializers: https://keras.io/api/layers/initializers/",
            "activations: https://keras.io/api/layers/activations/",
        ),
    ),
)


def _useless_bias(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        if info.spec.ROLE is not Role.LINEAR_MAP or not info.spec.use_bias or info.spec.activation != "linear":
            continue
        if len(info.consumers) == 1 and subject.analysis.layers[info.consumers[0]].type == "batch_norm":
            yield Finding(
                subject.field_path(info, "use_bias"),
                f"'{info.name}' adds a bias that the batch_norm right after it subtracts again with the "
                f"batch mean: {info.output_shape[-1] if info.output_shape else 'its'} parameters that "
                f"never change the output",
                hint="set `use_bias: false` (batch_norm's beta is the offset)",
                layer=info.name,
            )


MS202 = Rule(
    code="MS202",
    name="useless-bias",
    level=Level.INFO,
    summary="a biased layer directly followed by batch normalisation",
    check=_useless_bias,
    docs=Docs(
        what="Flags a dense or convolution layer with a bias and no activation whose output goes straight into "
        "batch_norm.",
        why="Batch normalisation subtracts the per-feature batch mean, which removes any constant offset, bias "
        "included, and adds its own learned offset (beta). The bias costs parameters and optimizer state and "
        "has no effect on the output.",
        example=spec(
            "  - {type: dense, units: 64}\n"
            "  - {type: batch_norm}\n"
            "  - {type: activation, activation: relu}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, use_bias: false}\n"
            "  - {type: batch_norm}\n"
            "  - {type: activation, activation: relu}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        references=doc_parts.IOFFE_2015,
    ),
)


def _hidden_softmax(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        if info.spec.applied_activation() == "softmax" and not subject.analysis.reaches_output_through(info.name):
            yield Finding(
                _activation_path(subject, info),
                f"'{info.name}' applies softmax but is a hidden layer: its outputs are forced to sum to "
                f"1, so each is about 1/{info.output_shape[-1] if info.output_shape else 'n'} and they "
                f"compete instead of carrying features",
                hint="use relu (or another element-wise activation) on hidden layers; softmax belongs on the output",
                layer=info.name,
            )


MS203 = Rule(
    code="MS203",
    name="hidden-softmax",
    level=Level.WARNING,
    summary="softmax on a hidden layer",
    check=_hidden_softmax,
    docs=Docs(
        what="Flags a softmax (as a layer's activation or an activation layer) whose output is not a model "
        "output but feeds further layers.",
        why="Softmax turns a vector into a probability distribution: the values sum to 1, so with n units each is "
        "about 1/n at initialisation, the signal shrinks by a factor of n, and raising one unit lowers all the "
        "others. That is right for class probabilities (and inside attention), wrong for hidden features.",
        example=spec(
            "  - {type: dense, units: 16, activation: softmax}\n  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 10, activation: softmax}\n"
        ),
        known_problems="Calibrated (docs/calibration.md, MS203's row; `benchmarks/calibration.py --only softmax "
        "--seeds 2`; "
        "digits, 12 epochs, 2 seeds): softmax on the first of two hidden layers of 64 ends at 0.903 accuracy "
        "against relu's 0.974 and needs 5× the epochs to reach the target: a warning. Only a dense layer of "
        "64 units was measured; a softmax used as attention weights over a sequence axis is not a hidden "
        "activation in that sense and was not trained.",
        references=doc_parts.GLOROT_2010,
    ),
)


def _geometry(info) -> Optional[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(span, strides) per spatial axis of a linear map's window: () for dense (it maps the last axis only);
    None for a layer whose merge the rule does not compute (transposed convolutions)."""
    spec = info.spec
    if info.type == "dense":
        return (), ()
    if info.type == "conv2d_transpose" or not hasattr(spec, "kernel_size"):
        return None
    rank = spec.RANK
    kernel, strides = per_axis(spec.kernel_size, rank), per_axis(spec.strides, rank)
    dilation = per_axis(spec.dilation_rate, rank)
    return tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation)), strides


def merged_params(first, second) -> Optional[int]:
    """Parameters of the one linear layer equal to ``first`` then ``second`` (at least: pass-through layers
    between them only widen it), or None when unknown. Windows compose: a window of e₂ taps with steps of s₁
    over the first layer's outputs spans e₁ + (e₂ − 1)·s₁ of its inputs. The merged layer mixes every input
    channel into every output channel, unless both are depthwise (per-channel) with one output per channel."""
    a, b = _geometry(first), _geometry(second)
    if a is None or b is None or not first.input_shapes or first.input_shapes[0] is None:
        return None
    source, out = first.input_shapes[0], second.output_shape
    if out is None or source[-1] is None:
        return None
    if second.type == "dense" and len(second.input_shapes[0]) < len(first.output_shape or ()):
        size = math.prod(d for d in source if d is not None)  # flattened in between: dense over the whole input
        return size * out[-1] + out[-1]
    rank = max(len(a[0]), len(b[0]))
    (e1, s1), (e2, s2) = (g if g[0] else ((1,) * rank, (1,) * rank) for g in (a, b))
    span = math.prod(x + (y - 1) * s for x, y, s in zip(e1, e2, s1))
    depthwise = all(
        info.spec.PER_CHANNEL_SLOTS and getattr(info.spec, "filters", None) is None for info in (first, second)
    )
    if depthwise and out[-1] == source[-1]:
        return span * source[-1] + out[-1]
    return span * source[-1] * out[-1] + out[-1]


def _stacked_linear(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        if info.spec.ROLE is not Role.LINEAR_MAP or info.spec.activation != "linear":
            continue
        following = [after for after in subject.analysis.next_layers(info.name) if after.spec.ROLE is Role.LINEAR_MAP]
        if not following:
            continue
        after = following[0]
        merged = merged_params(info, after)
        pair = (info.params or 0) + (after.params or 0)
        if merged is not None and merged > pair:
            continue  # a factorisation (strided, depthwise, low-rank): cheaper than the one map it equals
        size = f" (here of {merged:,} parameters instead of {pair:,})" if merged is not None else ""
        yield Finding(
            _activation_path(subject, info),
            f"'{info.name}' has no activation and feeds '{after.name}' directly: two linear maps "
            f"in a row are one linear map{size}, so the pair adds parameters but no expressive power",
            hint=f"give '{info.name}' an activation (e.g. `activation: relu`), or merge the two layers",
            layer=info.name,
        )


MS204 = Rule(
    code="MS204",
    name="stacked-linear",
    level=Level.INFO,
    summary="consecutive weighted layers with no non-linearity between them",
    check=_stacked_linear,
    docs=Docs(
        what="Flags a dense or convolution layer without an activation whose output goes (through shape, pooling "
        "or dropout layers only) into another dense or convolution layer, when the one layer equal to the "
        "pair would need no more parameters than the pair.",
        why="W₂(W₁x + b₁) + b₂ is the single affine map (W₂W₁)x + (W₂b₁ + b₂): the first layer adds parameters and "
        "computation but no capacity, and often a forgotten `activation:` is the cause. Not flagged: a pair "
        "that is cheaper than the map it equals, which is a factorisation chosen on purpose: a low-rank "
        "bottleneck (784 → 32 → 256: 33k parameters for a 200k map), or a strided or depthwise convolution "
        "followed by another (ConvNeXt's 2×2 stride-2 down-sampling, 96 → 192 channels, then a 7×7 depthwise "
        "convolution: 83k parameters; as one convolution the windows compose to 14×14 and it needs 3.6M, 44×). "
        "The hint states the merged layer's size. Info level: the pair trains as well as the one layer (see "
        "Known problems).",
        example=spec(
            "  - {type: dense, units: 64}\n"
            "  - {type: dense, units: 64, activation: relu}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}\n"
            "  - {type: dense, units: 64, activation: relu}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        known_problems="Not a training hazard, so info: a factorised linear map trains as well as the map it "
        "equals (deep linear networks learn, Saxe et al. 2014), and keras-io's knowledge_distillation teacher, a "
        "linear 512-filter convolution straight into the logits, reaches about 97.6%. Measured on the bundled "
        "digits (`python benchmarks/rulefixes/run.py stacked stacked_merged`: a relu layer of 128, then a linear "
        "dense 64 into the softmax head, against the two merged into one head; Adam 0.002, 20 epochs, seeds 1-3): "
        "the pair ends at val_loss 0.054 and val_accuracy 0.984 and reaches 0.9 in 1 epoch, the merged layer at "
        "0.064, 0.982 and 1.7 epochs, relu on the first at 0.046, 0.986 and 1.7. Whether the missing activation "
        "was meant is for the author: relu on it gains a little here, and may gain more on a task that needs "
        "the extra non-linearity.",
        references=doc_parts.GLOROT_2010,
    ),
)
