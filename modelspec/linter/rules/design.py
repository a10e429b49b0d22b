"""Design rules (MS205–MS208): a head that does not fit the task it is trained for, and layer orders the literature
names as smells."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.layers.base import Role
from modelspec.schema.training import BINARY, REGRESSION

# Losses whose targets have the output's shape: a (B, H, W, K) output wants one-hot (B, H, W, K) targets, one label
# per position, which a classifier of whole examples does not have. sparse_categorical_crossentropy is left out:
# its integer targets have one axis less, and an integer label per position is what a segmentation map has.
_BROADCAST_LOSSES = frozenset({"categorical_crossentropy", "categorical_focal_crossentropy"})
# Layers that make an output per position on purpose, when the walk back from a dense head meets them: a
# sequence-to-sequence recurrent layer, an up-sampling decoder, an explicit reshape, Keras's own layers.
_ON_PURPOSE = frozenset({"reshape", "up_sampling2d", "conv2d_transpose", "keras", "permute"})
_HEAD = frozenset({"dense", "activation", "dropout", "alpha_dropout", "gaussian_noise", "rescaling", "layer_norm"})
_ACCURACY = frozenset(
    {"accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "auc", "precision"}
)
_SQUASHING = frozenset({"sigmoid", "hard_sigmoid"})
LI_2019 = (
    "Li, Chen, Hu & Yang (2019), Understanding the Disharmony between Dropout and Batch Normalization by Variance "
    "Shift, CVPR. https://arxiv.org/abs/1801.05134"
)
GOLIK_2013 = (
    "Golik, Doetsch & Ney (2013), Cross-Entropy vs. Squared Error Training: a Theoretical and Experimental "
    "Comparison, Interspeech. https://www.isca-archive.org/interspeech_2013/golik13_interspeech.html"
)
CALIBRATION = "benchmarks/calibrate_new_rules.py, figures in docs/calibration-new-rules.md"


def _loss_path(subject: Subject, index: int) -> tuple:
    return subject.spec.training.loss_path(index)


def _source_of_positions(subject: Subject, name: str):
    """Walk back from a dense head through the layers that keep every position apart (dense, activations,
    dropout, layer_norm); return the first layer (or None for a model input) that is not one of them."""
    analysis = subject.analysis
    current = analysis.layers.get(name)
    while current is not None and current.type in _HEAD and len(current.inputs) == 1:
        current = analysis.layers.get(current.inputs[0])
    return current


def _non_flat_classification(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    if subject.spec.training is None:
        return
    for index, (name, loss) in enumerate(subject.analysis.losses.items()):
        info = subject.analysis.layers[name]
        shape = info.output_shape
        if loss is None or shape is None or len(shape) < 2 or None in shape[:-1] or math.prod(shape[:-1]) <= 1:
            continue
        if not (loss.type in _BROADCAST_LOSSES or loss.kind == BINARY):
            continue
        producer = subject.analysis.producer(name)
        if producer is None or producer.type != "dense":
            continue  # a convolution head classifies each position on purpose (a segmentation map)
        source = _source_of_positions(subject, producer.name)
        if source is not None and (
            source.type in _ON_PURPOSE or source.spec.ROLE in (Role.RECURRENT, Role.ATTENTION, Role.MERGE)
        ):
            continue
        axes = "×".join(str(d) for d in shape[:-1])
        where = f"'{source.name}'" if source is not None else "the input"
        yield Finding(
            _loss_path(subject, index),
            f"{loss.type} scores '{name}', whose output still has {len(shape) - 1} "
            f"{'axis' if len(shape) == 2 else 'axes'} before the classes ({axes} positions from {where}, shape "
            f"{tuple(shape)}): the dense head classifies each position separately, so the loss needs a label per "
            f"position; against one label per example Keras refuses the shapes at the first step",
            hint=f"add a flatten or global pooling layer before the dense head '{producer.name}'",
            layer=name,
        )


MS205 = Rule(
    code="MS205",
    name="non-flat-classification",
    level=Level.WARNING,
    summary="a classification loss on an output that still has spatial or time axes",
    check=_non_flat_classification,
    docs=Docs(
        what="Flags an output scored by categorical cross-entropy (or a binary loss) whose shape still has spatial "
        "or time axes before the class axis because a dense head was put straight after a convolution, a "
        "pooling layer, an embedding or a multi-axis input, with no flatten or global pooling in between.",
        why="A dense layer maps the last axis only: on a (6, 6, 16) feature map it produces (6, 6, 10), ten "
        "class scores for each of the 36 positions, not one prediction per image. Against the (batch, 10) "
        "one-hot labels of an image classifier Keras 3 stops at the first step (`target` and `output` must have "
        "the same rank), and `modelspec train` / `compare` refuse the data before training (exit 2); older "
        "Keras versions broadcast the labels over the positions instead and trained each position to guess the "
        "image's class from its own receptive field. Either way the head was meant to see the whole input. Not "
        "flagged: "
        "sparse categorical cross-entropy (it wants one integer label per position, as a segmentation map has, "
        "and Keras refuses a label per example), convolution heads (per-pixel classifiers), and heads after a "
        "recurrent or attention layer, a reshape or up-sampling, which make a sequence or map on purpose.",
        example=spec(
            "  - {type: conv2d, filters: 16, kernel_size: 3, activation: relu}\n"
            "  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: adam\n  loss: categorical_crossentropy\n",
            input_shape="[8, 8, 1]",
        ),
        use_instead=spec(
            "  - {type: conv2d, filters: 16, kernel_size: 3, activation: relu}\n"
            "  - {type: flatten}\n"
            "  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: adam\n  loss: categorical_crossentropy\n",
            input_shape="[8, 8, 1]",
        ),
        references=doc_parts.KERAS_LOSSES + "\nKeras Dense layer (applies to the last axis): "
        "https://keras.io/api/layers/core_layers/dense/",
        known_problems="Calibration: docs/calibration.md, MS205's row (a refusal: Keras 3 stops on the first batch). "
        "Without the data, lint cannot see the targets' shape: a per-pixel classifier written as "
        "a dense head on convolution features with one-hot (batch, H, W, K) masks is flagged although it is "
        "right (a 1×1 convolution head, or sparse labels, is not); a dense head after a recurrent or attention "
        "layer is taken to be a per-step classifier on purpose (keras-io's addition_rnn), so a sequence "
        "classifier that forgot to drop `return_sequences` is missed. The level is a warning because the fault "
        "does not degrade training, it prevents it: Keras 3 raises on the first batch and modelspec's data "
        "check refuses it (tests/test_new_rules.py, and " + CALIBRATION + ").",
    ),
)


def _squashed_regression(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    if training is None or not _ACCURACY & set(training.metrics):
        return
    for index, (name, loss) in enumerate(subject.analysis.losses.items()):
        activation = subject.analysis.producer_activation(name)
        if loss is None or loss.kind != REGRESSION or activation not in _SQUASHING:
            continue
        yield Finding(
            _loss_path(subject, index),
            f"{loss.type} on the {activation} output '{name}', scored by accuracy: a regression loss on "
            f"probabilities of a classifier gives a gradient that vanishes where the sigmoid saturates, also "
            f"when the prediction is confidently wrong",
            hint="use binary_crossentropy (or categorical_crossentropy on a softmax output)",
            layer=name,
        )


MS206 = Rule(
    code="MS206",
    name="regression-loss-on-classifier",
    level=Level.INFO,
    summary="mean squared/absolute error on a sigmoid output scored by accuracy",
    check=_squashed_regression,
    docs=Docs(
        what="Flags a regression loss (mean squared or absolute error, Huber, log-cosh...) on a sigmoid output "
        "when the spec's metrics include accuracy, AUC or precision: a classifier trained as a regression. "
        "(A regression loss on softmax is MS301's error.)",
        why="With a sigmoid output p = σ(z) the gradient of squared error at the logit is 2(p − y)·p(1 − p): it "
        "vanishes as p approaches 0 or 1, including when p is near 1 and the label is 0. Cross-entropy's is "
        "p − y, largest when the model is most wrong. Mean absolute error is worse: its gradient has a constant "
        "size whatever the error, times the same p(1 − p). Trained this way a classifier learns more slowly and "
        "can stall on confidently wrong examples (Golik et al. 2013).",
        example=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\n",
            extra="training:\n  optimizer: adam\n  loss: mean_absolute_error\n  metrics: [accuracy]\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\n",
            extra="training:\n  optimizer: adam\n  loss: binary_crossentropy\n  metrics: [accuracy]\n",
        ),
        references="\n".join((GOLIK_2013, doc_parts.KERAS_LOSSES)),
        known_problems="Info since calibration: docs/calibration.md, MS206's row. "
        "Info, not a warning: on a balanced binary task from a standard initialisation ("
        + CALIBRATION
        + ") mean squared error trained as well as binary cross-entropy (validation accuracy 0.820 against 0.821 "
        "after 20 epochs, 2 seeds) and mean absolute error only somewhat worse (0.791, reaching 90% of "
        "cross-entropy's accuracy at epoch 7 instead of 5): the saturation argument bites when the output starts "
        "saturated or the classes are far apart in frequency, which the rule cannot see. A sigmoid output scored "
        "by accuracy is taken to be a classifier; a regression onto targets in [0, 1] that also logs accuracy is "
        "flagged too.",
    ),
)


def _dropout_before_batch_norm(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    analysis = subject.analysis
    for info in analysis.layers.values():
        if info.type not in ("dropout", "alpha_dropout") or not getattr(info.spec, "rate", 0):
            continue
        after = analysis.next_layers(info.name, stop_at=frozenset({"dropout", "alpha_dropout"}))
        norms = [layer for layer in after if layer.type == "batch_norm"]
        if not norms:
            continue
        yield Finding(
            info.path,
            f"dropout '{info.name}' feeds batch_norm '{norms[0].name}' directly: batch_norm's moving variance is "
            f"learnt on the dropped-out activations during training and used on the full ones at inference, so "
            f"its output shifts in scale between the two (the 'variance shift')",
            hint=f"move the dropout after '{norms[0].name}' (after the last batch_norm of the block), or drop it",
            layer=info.name,
        )


MS207 = Rule(
    code="MS207",
    name="dropout-before-batch-norm",
    level=Level.INFO,
    summary="dropout directly before batch normalisation",
    check=_dropout_before_batch_norm,
    docs=Docs(
        what="Flags a dropout layer (rate above 0) whose output goes, through pass-through layers only, into "
        "batch_norm.",
        why="Dropout scales the kept units by 1/(1 − rate) during training, which changes the variance batch_norm "
        "measures; at inference dropout is off and the variance is different, but batch_norm normalises with "
        "the moving variance it learnt in training. Li et al. (2019) name this the variance shift and measure "
        "lower accuracy for dropout placed before batch normalisation than after it.",
        example=spec(
            "  - {type: dense, units: 64, activation: relu}\n"
            "  - {type: dropout, rate: 0.5}\n"
            "  - {type: batch_norm}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}\n"
            "  - {type: batch_norm}\n"
            "  - {type: dropout, rate: 0.5}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        references="\n".join((LI_2019, doc_parts.IOFFE_2015)),
        known_problems="Info only: the effect Li et al. measure is a few tenths to a few points of accuracy and "
        "depends on the rate; not calibrated with `compare` here.",
    ),
)


def _widening_head(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    analysis = subject.analysis
    for name in analysis.outputs:
        head = analysis.producer(name)
        if head is None or head.type != "dense" or len(head.inputs) != 1:
            continue
        before = analysis.producer(head.inputs[0])
        if before is None or before.type != "dense" or len(before.inputs) != 1 or not before.input_shapes:
            continue
        feeder = analysis.producer(before.inputs[0])
        shape = before.input_shapes[0]
        if feeder is None or not feeder.weighted or shape is None or shape[-1] is None:
            continue  # right after the model input: a small network's one hidden layer is meant to widen
        width = shape[-1]
        if before.spec.units <= width:
            continue
        yield Finding(
            before.path,
            f"'{before.name}' widens {width} features to {before.spec.units} right before the output "
            f"'{head.name}': it cannot add information its input does not have, so the extra "
            f"{before.spec.units - width} units add parameters ({before.params or 0:,}) without capacity the "
            f"output can use",
            hint=f"give '{before.name}' at most {width} units, or widen an earlier layer instead",
            layer=before.name,
        )


MS208 = Rule(
    code="MS208",
    name="widening-head",
    level=Level.INFO,
    summary="a dense layer wider than its input right before the output",
    check=_widening_head,
    docs=Docs(
        what="Flags the last hidden dense layer before a dense output when it has more units than the features it "
        "receives from an earlier weighted layer. A hidden layer right after the model's input is not flagged.",
        why="The last hidden layer is the representation the output reads. Mapping it to more dimensions than "
        "its input has cannot add information (data-processing inequality); a ReLU layer can only fold its "
        "input into a higher-dimensional space of the same intrinsic dimension, so the extra units cost "
        "parameters and compute for what a layer of the input's width, or a wider earlier layer, provides. "
        "Usually a funnel written the wrong way round (…, 32, 128, output).",
        example=spec(
            "  - {type: dense, units: 16, activation: relu}\n"
            "  - {type: dense, units: 256, activation: relu}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        use_instead=spec(
            "  - {type: dense, units: 256, activation: relu}\n"
            "  - {type: dense, units: 16, activation: relu}\n"
            "  - {type: dense, units: 10, activation: softmax}\n"
        ),
        references="Cover & Thomas (2006), Elements of Information Theory, 2nd ed., section 2.8 (data-processing "
        "inequality).\nTishby & Zaslavsky (2015), Deep Learning and the Information Bottleneck Principle. "
        "https://arxiv.org/abs/1503.02406",
        known_problems="Info only, not calibrated: a wider last layer can still help optimisation (more "
        "random features for the output to combine), so this is a smell, not a fault.",
    ),
)
