"""The initializer's family against what it feeds: He before a saturating activation (MS102), Glorot or LeCun
before the ReLU family (MS103), selu without LeCun (MS104), a recurrent kernel that is not orthogonal (MS107)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelspec.analysis.graph import slot_feeds
from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.linter.rules.initialization.shared import describe
from modelspec.schema.activations import ACTIVATIONS, RELU_FAMILY, SATURATING, SELU
from modelspec.schema.initializers import GLOROT, HE, IDENTITY, LECUN, ORTHOGONAL, family

# --- MS102, MS103, MS104: the initializer's family against the activation it feeds --------------------------


def _family_mismatch(subject: Subject, families: tuple[str, ...], activations: tuple[str, ...]):
    """Yield the kernels whose family sizes the signal wrongly for the activation they feed. Not judged: a layer
    whose output goes into normalisation, which resets the scale whatever the family; and depthwise kernels,
    where Keras's fan_in counts every channel but an output sums one (He and Glorot both miss by about the
    channel count there, and switching family fixes nothing: MS110 judges the scale that results)."""
    for info in subject.analysis.layers.values():
        activation = info.feeds
        if ACTIVATIONS[activation].family not in activations or subject.analysis.normalised(info.name):
            continue
        for slot, init in info.kernels():
            if slot in info.spec.core.PER_CHANNEL_SLOTS or slot_feeds(info, slot) != activation:
                continue
            if family(init) in families and slot not in info.auto_slots:
                yield info, slot, init, activation


def _he_on_saturating(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info, slot, init, activation in _family_mismatch(subject, (HE,), (SATURATING,)):
        yield Finding(
            subject.field_path(info, slot),
            f"'{info.name}' initialises its {slot.removesuffix('_initializer')} with {describe(init)} (He) "
            f"but feeds {activation}: He's variance 2/fan_in is sized for ReLU, which discards half the "
            f"signal, and drives {activation} into saturation",
            hint=f"use glorot_uniform (or `{slot}: auto`) before {activation}",
            layer=info.name,
        )


MS102 = Rule(
    code="MS102",
    name="he-on-saturating",
    level=Level.WARNING,  # calibrated: degraded on 3 of the recall corpus's 4 bases (docs/calibration.md)
    summary="He-family init feeding sigmoid, tanh, softmax, hard_sigmoid or softsign",
    check=_he_on_saturating,
    docs=Docs(
        what="Flags a kernel initialised from the He family (he_normal, he_uniform, or variance_scaling with "
        "scale 2 and mode fan_in, in any spelling) on a layer whose output feeds a saturating activation: "
        "sigmoid, tanh, softmax, hard_sigmoid, softsign or hard_tanh. Not judged: a layer whose output goes "
        "into batch or layer normalisation (which resets the scale whatever the initializer), and depthwise "
        "kernels (see MS103).",
        why="He et al. doubled Glorot's variance because ReLU zeroes half of its input. A saturating activation "
        "keeps both halves, so the doubled variance pushes pre-activations into the flat tails where the "
        "gradient vanishes; for tanh the variance grows layer after layer instead of staying put.",
        example=spec(
            "  - {type: dense, units: 64, activation: tanh, kernel_initializer: he_normal}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: tanh, kernel_initializer: glorot_uniform}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        known_problems="Calibrated (docs/calibration.md, MS102's row), with mixed results. On digits "
        "(`benchmarks/calibration.py --only he --seeds 2`; 12 epochs, 2 seeds, widths of 64) He kernels before tanh "
        "(depth 2 and 8, Adam; depth 8 under SGD with momentum), before sigmoid (depth 3) and on a softmax head "
        "never trained measurably worse than `auto` (Glorot): 0.978, 0.976, 0.981, 0.860 and 0.975 validation "
        "accuracy against 0.974, 0.971, 0.972, 0.808 and 0.967. On the recall corpus (docs/precision.md; "
        "`benchmarks/recall.py`), He before the saturating layers of 3 of the 4 models it applies to ended with a "
        "validation loss 43% (a binary MLP with a sigmoid head), 170% (an LSTM regressor) and 140% (a tanh-headed "
        "regressor) worse than the original's; a text CNN trained as well. The harm shows on regression and on "
        "sigmoid heads more than on softmax classifiers; the rule does not tell them apart.",
        references="\n".join((doc_parts.GLOROT_2010, doc_parts.HE_2015)),
    ),
)


def _glorot_on_relu(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info, slot, init, activation in _family_mismatch(subject, (GLOROT, LECUN), (RELU_FAMILY,)):
        kind = "Glorot" if family(init) == GLOROT else "LeCun"
        yield Finding(
            subject.field_path(info, slot),
            f"'{info.name}' initialises its {slot.removesuffix('_initializer')} with {describe(init)} "
            f"({kind}) but feeds {activation}: {activation} discards about half of the signal's second "
            f"moment, so each such layer shrinks it by about half",
            hint=f"use he_normal (or `{slot}: auto`) before {activation}",
            layer=info.name,
        )


MS103 = Rule(
    code="MS103",
    name="glorot-on-relu",
    level=Level.INFO,
    summary="Glorot/LeCun-family init feeding the ReLU family",
    check=_glorot_on_relu,
    docs=Docs(
        what="Flags a kernel initialised from the Glorot or LeCun family (glorot_*, lecun_*, or the matching "
        "variance_scaling) on a layer whose output feeds a ReLU-family activation (relu, relu6, leaky_relu, "
        "elu, celu, gelu, silu, hard_silu, mish). Not judged: a layer whose output goes, through pass-through "
        "layers only, into batch or layer normalisation (conv → batch_norm → relu, as in ResNet), and "
        "depthwise kernels.",
        why="Glorot and LeCun keep the variance of a linear (or tanh-like) layer. ReLU zeroes the negative half, so "
        "the second moment halves at every layer: after 10 layers the signal is 1/32 of its size and after 30 "
        "it is lost (MS110 reports when that happens). Shallow networks train anyway, hence info. Normalisation "
        "divides by the standard deviation it measures, so before it the initializer's scale does not matter "
        "(MS110 does not judge such layers either). A depthwise kernel (kh, kw, C, m) sums kh·kw terms of one "
        "channel, but Keras's fan_in counts kh·kw·C: He gives it 2/C of what ReLU needs and Glorot about the "
        "same, so switching family fixes nothing there; `auto` scales by the window instead (docs/signal.md).",
        example=spec(
            "  - {type: dense, units: 64, activation: relu, kernel_initializer: glorot_uniform}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu, kernel_initializer: he_normal}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        references="\n".join((doc_parts.HE_2015, doc_parts.GLOROT_2010)),
    ),
)


def _selu_needs_lecun(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        if ACTIVATIONS[info.feeds].family == SELU:
            for slot, init in info.kernels():
                if family(init) != LECUN:
                    yield Finding(
                        subject.field_path(info, slot),
                        f"'{info.name}' feeds selu but initialises its {slot.removesuffix('_initializer')} "
                        f"with {describe(init)}: SELU self-normalises only from variance 1/fan_in",
                        hint=f"use lecun_normal (or `{slot}: auto`)",
                        layer=info.name,
                    )
        if info.spec.applied_activation() == "selu":
            for after in subject.analysis.next_layers(info.name, stop_at=frozenset({"dropout"})):
                if after.type == "dropout":
                    yield Finding(
                        after.path + ("type",),
                        f"plain dropout after the selu of '{info.name}' shifts the mean and variance that "
                        f"SELU keeps at 0 and 1",
                        hint="use `type: alpha_dropout`, which keeps them",
                        layer=after.name,
                        level=Level.INFO,  # calibrated harmless (docs/calibration.md, MS104's row)
                    )


MS104 = Rule(
    code="MS104",
    name="selu-needs-lecun",
    level=Level.WARNING,
    summary="selu without LeCun init, or selu followed by plain dropout",
    check=_selu_needs_lecun,
    docs=Docs(
        what="Flags a layer feeding selu whose kernel is not LeCun-initialised (lecun_normal, lecun_uniform or "
        "variance_scaling with scale 1 and fan_in), and plain `dropout` right after a selu.",
        why="SELU's self-normalising fixed point (mean 0, variance 1) holds only when the weights have variance "
        "1/fan_in. Dropout sets values to 0, which is not SELU's mean for negative saturation, and rescales the "
        "rest: the activations drift away from the fixed point. alpha_dropout was designed to keep it.",
        example=spec(
            "  - {type: dense, units: 64, activation: selu, kernel_initializer: he_normal}\n"
            "  - {type: dropout, rate: 0.1}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: selu, kernel_initializer: lecun_normal}\n"
            "  - {type: alpha_dropout, rate: 0.1}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        known_problems="Calibrated (docs/calibration.md, MS104's row; `benchmarks/calibration.py --only selu "
        "--seeds 2`; "
        "digits, 12 epochs, 2 seeds): selu with glorot_uniform instead of lecun_normal is fine at depth 8 "
        "(0.979 against 0.985) and measurably worse at depth 16 (val_loss 0.332 against 0.207, accuracy 0.912 "
        "against 0.946): a warning, though the depth where it starts to hurt lies between 8 and 16 and the "
        "rule does not look at depth. Plain dropout (0.2) after selu trained as alpha_dropout did (0.976 "
        "against 0.974): that case is info.",
        references=doc_parts.KLAMBAUER_2017,
    ),
)


# --- MS107: the recurrent kernel ------------------------------------------------------------------------------


def _recurrent_not_orthogonal(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        init = info.initializers.get("recurrent_initializer")
        if init is None or family(init) in (ORTHOGONAL, IDENTITY):
            continue
        yield Finding(
            subject.field_path(info, "recurrent_initializer"),
            f"the recurrent kernel of '{info.name}' is {describe(init)}: applied at every time step, "
            f"a non-orthogonal matrix stretches some directions and shrinks others exponentially",
            hint="use orthogonal (`recurrent_initializer: auto`)",
            layer=info.name,
        )


MS107 = Rule(
    code="MS107",
    name="recurrent-not-orthogonal",
    level=Level.INFO,
    summary="recurrent kernel not orthogonal",
    check=_recurrent_not_orthogonal,
    docs=Docs(
        what="Flags a recurrent layer (lstm, gru, simple_rnn, also inside bidirectional) whose recurrent kernel is "
        "neither orthogonal nor identity.",
        why="The recurrent kernel multiplies the state once per time step, so over T steps its singular values are "
        "raised to the power T: any above 1 explode and any below 1 vanish. An orthogonal matrix has all "
        "singular values equal to 1 (Saxe et al.); identity, for ReLU RNNs (Le et al.), is orthogonal too.",
        example=spec(
            "  - {type: lstm, units: 16, recurrent_initializer: glorot_uniform}\n"
            "  - {type: dense, units: 1, activation: sigmoid}\n",
            input_shape="[20, 8]",
        ),
        use_instead=spec(
            "  - {type: lstm, units: 16}   # auto: orthogonal\n  - {type: dense, units: 1, activation: sigmoid}\n",
            input_shape="[20, 8]",
        ),
        references="\n".join((doc_parts.SAXE_2014, doc_parts.LE_2015)),
    ),
)
