"""Dead at initialisation (MS115): a deep stack of narrow ReLU layers in which an example's signal is likely to
die, every unit of some layer negative, before it reaches the output (Lu et al. 2019)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.initializers import CONSTANT, family

# Activations that are exactly zero on a whole half-line, so a unit can be off for an example: the units Lu et
# al. analyse. leaky_relu, elu, gelu and swish pass some signal back through negative inputs and are not counted.
DYING = frozenset({"relu", "relu6"})

LU_2019 = (
    "Lu, Shin, Su & Karniadakis (2019/2020), Dying ReLU and Initialization: Theory and Numerical Examples, "
    "Communications in Computational Physics 28(5). https://arxiv.org/abs/1903.06733"
)
LU_2018 = "Lu, Su & Karniadakis (2018), Collapse of Deep and Narrow Neural Nets. https://arxiv.org/abs/1808.04947"


def _symmetric(info) -> bool:
    """Whether the layer is one Lu et al.'s law covers: a dense layer with a dying activation, a kernel drawn
    symmetrically around zero and a zero bias, so that each unit is negative for a given input with probability
    1/2, independently of the others."""
    if info.type != "dense" or info.spec.applied_activation() not in DYING:
        return False
    for _, init in info.kernels():
        if family(init) == CONSTANT or getattr(init, "mean", 0.0) != 0.0:
            return False
        if init.type == "random_uniform" and init.minval != -init.maxval:
            return False
    bias = info.initializers.get("bias_initializer")
    return not info.spec.use_bias or bias is None or bias.type == "zeros"


def stacks(subject: Subject) -> Iterator[list]:
    """Yield every maximal chain of such layers, each feeding the next through pass-through layers only (no
    normalisation, no merge: batch norm re-centres every unit on the batch, a residual add carries the signal
    around a dead layer)."""
    analysis = subject.analysis
    chain_of: dict[str, list] = {}
    chains: list[list] = []
    for info in analysis.layers.values():
        if not _symmetric(info):
            continue
        producer = analysis.producer(info.inputs[0]) if len(info.inputs) == 1 else None
        chain = chain_of.get(producer.name) if producer is not None else None
        if chain is not None and chain[-1] is producer and len(analysis.next_layers(producer.name)) == 1:
            chain.append(info)
        else:
            chain = [info]
            chains.append(chain)
        chain_of[info.name] = chain
    yield from chains


def death_probability(widths: list[int]) -> float:
    """The probability that one example's signal dies in a stack of ReLU layers of these widths, with zero biases
    and symmetric kernels: a layer of N units given a non-zero input is all off with probability 2^−N, and a zero
    input stays zero to the end. 1 − ∏(1 − 2^−N), the quantity Lu et al. (2019) show tends to 1 with depth."""
    alive = 1.0
    for width in widths:
        alive *= 1.0 - 0.5**width
    return 1.0 - alive


def _dead_relu_stack(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    threshold = options["dead-relu-probability"]
    for chain in stacks(subject):
        widths = [info.spec.units for info in chain]
        probability = death_probability(widths)
        if probability < threshold:
            continue
        first, narrowest = chain[0], min(widths)
        wide = death_probability([16] * len(chain))
        yield Finding(
            first.path,
            f"'{first.name}' starts a stack of {len(chain)} ReLU layers of {narrowest}–{max(widths)} units with no "
            f"normalisation or skip connection: at initialisation each example's signal dies (every unit of some "
            f"layer negative, so the output is constant and no gradient flows back) with probability "
            f"{probability:.0%} (Lu et al. 2019: 1 − ∏(1 − 2^−width) over the layers), above {threshold:g}",
            hint=f"widen the layers (with 16 units this stack's probability is {wide * 100:.2g}%), "
            "make it shallower, add batch_norm or residual connections, or use leaky_relu",
            layer=first.name,
        )


MS115 = Rule(
    code="MS115",
    name="dead-relu-stack",
    level=Level.WARNING,
    summary="a deep stack of narrow ReLU layers likely to be dead at initialisation",
    check=_dead_relu_stack,
    options={"dead-relu-probability": 0.5},
    docs=Docs(
        what="Flags a chain of dense ReLU layers (relu or relu6, zero biases, kernels drawn symmetrically around "
        "zero), each feeding the next through pass-through layers only, in which the probability that an "
        "example's signal dies before the end, 1 − ∏(1 − 2^−width), is at least `dead-relu-probability` (default "
        "0.5). The message gives the probability.",
        why="For a given non-zero input, a ReLU unit with a symmetric kernel and a zero bias is negative with "
        "probability 1/2, independently of the other units of its layer, so a layer of N units outputs all zeros "
        "with probability 2^−N; from there every later layer gets zeros, the output is a constant and that "
        "example passes no gradient back. Over a stack of L layers the chance of surviving is ∏(1 − 2^−N): "
        "negligible for wide layers (N = 64), but 4 units over 12 layers lose 54% of the examples, 2 units over "
        "6 layers 82%. Lu et al. (2019) prove that a ReLU network of fixed width dies in probability as it gets "
        "deeper, and that a network dead at initialisation does not recover; the survivors' signal also "
        "collapses towards one direction (Lu et al. 2018), so deep narrow networks converge to the targets' "
        "mean.",
        example=spec(
            "  - {type: dense, units: 4, activation: relu}\n" * 12
            + "  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: adam\n  loss: sparse_categorical_crossentropy\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 32, activation: relu}\n" * 3
            + "  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: adam\n  loss: sparse_categorical_crossentropy\n",
        ),
        references="\n".join((LU_2019, LU_2018, doc_parts.HE_2015)),
        known_problems="Calibration: docs/calibration.md, MS115's row (the studies: docs/calibration-new-rules.md). "
        "The probability is per example and exact only for zero biases and continuous symmetric "
        "kernels; a layer with another bias initializer (Lu et al.'s remedy is a positive, asymmetric one) ends "
        "the chain, so such stacks are not judged. Only dense layers are counted: a convolution's units see "
        "many positions, and a unit is dead only if it is negative at all of them, which the law does not "
        "model. Measured on the digits (benchmarks/calibrate_new_rules.py, docs/calibration-new-rules.md, 2 seeds, 20 "
        "epochs): 12 × 4 units (54%) reach 0.247 validation accuracy against 0.514 with leaky_relu, 8 × 2 (90%) "
        "0.081 against 0.253; but 16 × 8 units (6%, not flagged) also trail leaky_relu, 0.460 against 0.553: "
        "deep narrow stacks collapse (Lu et al. 2018) before they die, which the rule does not model.",
    ),
)
