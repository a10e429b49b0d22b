"""Data-aware rules (MS601–MS606): the spec against the data it trains on (`modelspec lint SPEC --data DATA`, and
the start of `train` and `compare`).

They see the data through ``subject.data`` (a ``DataProfile``, modelspec/linter/data_checks.py: one pass over the
checked arrays) and find nothing when linting without data. What the readers already refuse (labels past the output's
units, one-hot labels of the wrong width, binary labels outside [0, 1], NaN) is a data error of the readers
(modelspec/data/checks.py, exit 2), as in `train`; these rules judge data that loads but does not suit the spec.
Measurements behind each level: benchmarks/data_rules.py, figures in each rule's "Known problems".
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Optional

from modelspec.diagnostics import Level
from modelspec.linter.data_checks import Stats
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.training import CATEGORICAL, REGRESSION

NORMALISING = frozenset({"rescaling", "normalization", "batch_norm", "layer_norm"})  # reset the scale of an input
MEASURED = "benchmarks/data_rules.py"
KERAS_PREPROCESSING = (
    "Keras preprocessing layers (Rescaling, Normalization): https://keras.io/api/layers/preprocessing_layers/"
)
LECUN_1998 = (
    "LeCun, Bottou, Orr & Müller (1998), Efficient BackProp, section 4.3 (normalising the inputs). "
    "https://yann.lecun.com/exdb/publis/pdf/lecun-98b.pdf"
)


def _shown(value: float) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"


def _span(bounds: tuple[float, float]) -> str:
    low, high = bounds
    if high == math.inf:
        return f"[{_shown(low)}, inf)"
    if low == -math.inf:
        return f"(-inf, {_shown(high)}]"
    return f"[{_shown(low)}, {_shown(high)}]"


def _outputs(subject: Subject) -> Iterator[tuple[str, Stats, object, int]]:
    """Yield (output, its targets' statistics, its loss, its index) for every output the data has targets for."""
    data = subject.data
    if data is None:
        return
    for index, (name, loss) in enumerate(subject.analysis.losses.items()):
        if name in data.targets:
            yield name, data.targets[name], loss, index


def _data(subject: Subject, name: str, what: str) -> str:
    return f"the {what} of '{name}' in {subject.data.source}"


# --- MS601 -----------------------------------------------------------------------------------------------------


def _target_out_of_range(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    share = options["target-floor"]
    for name, stats, loss, _ in _outputs(subject):
        if loss is None or loss.kind != REGRESSION or stats.outside == 0:
            continue
        if stats.variance > 0 and stats.floor < share * stats.variance:
            continue
        producer = subject.analysis.producer(name)
        activation = subject.analysis.producer_activation(name)
        if producer is None or activation is None:
            continue
        fraction = stats.outside / (stats.rows * stats.features)
        part = f", {stats.floor / stats.variance:.0%} of their variance" if stats.variance > 0 else ""
        yield Finding(
            subject.field_path(producer, "activation"),
            f"{fraction:.0%} of {_data(subject, name, 'targets')} lie outside {_span(stats.bounds)}, the range of its "
            f"{activation} output (the targets span {_shown(stats.low)} to {_shown(stats.high)}): no weights bring "
            f"the mean squared error below {stats.floor:.3g}{part}",
            hint="use a linear output (`activation: linear`), or scale the targets into the output's range",
            layer=name,
        )


_RANGE_TRAINING = "training:\n  optimizer: adam\n  loss: mse\n"
_RANGE_DATA = "x1,x2,price\n0.1,1.2,3.5\n0.4,-0.3,-1.0\n-1.1,0.7,7.25\n0.9,-1.4,-2.5\n1.3,0.2,0.5\n"

MS601 = Rule(
    code="MS601",
    name="target-out-of-range",
    level=Level.ERROR,
    summary="regression targets in the data lie outside the range the output activation can produce",
    check=_target_out_of_range,
    options={"target-floor": 0.05},
    docs=Docs(
        what="With data (`--data`), flags an output scored by a regression loss (mean squared or absolute error, "
        "Huber, log-cosh) whose activation cannot produce the targets: a sigmoid or softmax output (0 to 1), tanh "
        "or softsign (-1 to 1), relu (0 and above), relu6, elu, selu, softplus, exponential, for targets outside "
        "that range. The range of each activation is read off its function in the activation table. It fires "
        "when the squared distance from the targets to the range, which no weights can remove, is at least "
        "`target-floor` (5%) of the targets' variance (the error of always predicting their mean).",
        why="An output can only say values its activation makes. Every target outside that range leaves an error "
        "no training removes, and the model sits at the edge of the range (a saturated sigmoid, a dead relu) "
        "where the gradient vanishes, which also slows the fit of the targets inside it. The floor is exact: the "
        "mean squared distance from each target to the range, reported in the message.",
        example=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, name: price, units: 1, "
            "activation: sigmoid}\n",
            extra=_RANGE_TRAINING,
            input_shape="[2]",
        ),
        use_instead=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, name: price, units: 1}\n",
            extra=_RANGE_TRAINING,
            input_shape="[2]",
        ),
        references=f"{doc_parts.KERAS_LOSSES}\nmodelspec's measurement: {MEASURED} range",
        data=_RANGE_DATA,
        known_problems="Calibration: docs/calibration.md, MS601's row. "
        "Measured with `python benchmarks/data_rules.py range` (2,000 rows, 8 features, targets "
        "0.5 + 2 f(x) of variance 4, a 32-unit relu layer, mse, Adam 1e-3, 30 epochs, 3 seeds): final validation "
        "loss 0.46 with a linear output, 2.57 with sigmoid (5.5 times), 1.81 with tanh (3.9 times), 1.24 with "
        "relu (2.7 times), the same on every seed, against floors of 2.52, 1.66 and 1.24 that the rule computes "
        "from the data: training stops at the floor, hence an error. The floor is a bound for squared error; for "
        "absolute error and Huber the message still quotes the squared floor. Targets barely outside the range "
        "(a floor under 5% of the variance) are not reported, though they are still never reached; the 5% was "
        "not calibrated further. A rescaling layer after the activation moves the range (keras-io's DDPG actor, "
        "tanh then × 2 for actions in [-2, 2]); before that was taken into account the rule reported that working "
        "model with its own training data as an error (found by the recall corpus, corpus/mutants/). Other "
        "layers after the activation (a Lambda, a custom layer) are not followed.",
    ),
)


# --- MS602 -----------------------------------------------------------------------------------------------------


def _classes_unused(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for name, stats, loss, _ in _outputs(subject):
        if loss is None or loss.kind != CATEGORICAL:
            continue
        info = subject.analysis.layers.get(name)
        shape = info.output_shape if info is not None else None
        units = shape[-1] if shape else None
        if units is None or units < 2:
            continue
        if loss.type.startswith("sparse_"):
            if stats.values is None:
                continue
            used = [int(v) for v in stats.values]
            what = f"hold {len(used)} class{'es' if len(used) > 1 else ''} ({_listing(used)})"
        else:
            used = _hot_columns(stats, units)
            if used is None:
                continue
            what = f"set {len(used)} of the {units} columns ({_listing(used)})"
        unused = units - len(used)
        if unused <= 0:
            continue
        first = used and min(used) == 1 and max(used) == units - 1
        hint = (
            "the labels start at 1: class labels count from 0, so shift them down by one (and give the output one unit "
            "less)"
            if first
            else f"give '{name}' {len(used)} units, or check that the data holds every class"
        )
        yield Finding(
            subject.field_path(info, "units"),
            f"{_data(subject, name, 'labels')} {what}, and '{name}' has {units} units: "
            + (f"{unused} of them are never the answer" if unused > 1 else "one is never the answer"),
            hint=hint,
            layer=name,
        )


def _hot_columns(stats: Stats, units: int) -> Optional[list[int]]:
    """The one-hot columns that are 1 somewhere (binary rows: a column that never changes is 0 throughout, unless
    every column is constant, one class only, which says nothing about the columns)."""
    if not stats.binary_rows or stats.features != units or len(stats.constant) == units:
        return None
    constant = set(stats.constant)
    return [i for i in range(units) if i not in constant]


def _listing(numbers: list[int], limit: int = 8) -> str:
    if len(numbers) <= limit:
        return ", ".join(str(n) for n in numbers)
    return ", ".join(str(n) for n in numbers[:limit]) + f", ... ({len(numbers)} in all)"


_CLASS_LAYERS = (
    "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, name: kind, units: UNITS, activation: softmax}\n"
)
_CLASS_TRAINING = "training:\n  optimizer: adam\n  loss: sparse_categorical_crossentropy\n"

MS602 = Rule(
    code="MS602",
    name="classes-unused",
    level=Level.INFO,
    summary="the data's labels use fewer classes than the output has units",
    check=_classes_unused,
    docs=Docs(
        what="With data (`--data`), flags a classification output (categorical or sparse categorical "
        "cross-entropy) with more units than the classes its labels use: integer labels that never reach some "
        "class numbers, or one-hot columns that are never 1. Labels past the last unit, and one-hot labels of "
        "another width, are refused before this rule runs, as `train` refuses them (exit 2).",
        why="A unit whose class never occurs is never the answer: its softmax share is only pushed down, which "
        "costs parameters and probability mass and hides a mismatch between the spec and the data (a spec "
        "written for 10 classes trained on a 3-class subset; labels 1 to 10 given 11 units because class 0 is "
        "missing). Training still works, hence info.",
        example=spec(_CLASS_LAYERS.replace("UNITS", "10"), extra=_CLASS_TRAINING, input_shape="[2]"),
        use_instead=spec(_CLASS_LAYERS.replace("UNITS", "3"), extra=_CLASS_TRAINING, input_shape="[2]"),
        references=doc_parts.KERAS_LOSSES,
        data="a,b,kind\n0.1,1.2,0\n0.4,-0.3,1\n-1.1,0.7,2\n0.9,-1.4,1\n1.3,0.2,0\n",
        known_problems="A small sample or a validation split may lack a rare class by chance: the rule counts the "
        "classes of the data it is given. It is info because extra units were not measured to slow training.",
    ),
)


# --- MS603 -----------------------------------------------------------------------------------------------------


def _normalised(subject: Subject, name: str) -> bool:
    """Whether every path from ``name`` meets a layer that resets the scale before a layer with weights."""
    layers = subject.analysis.layers
    seen, queue = set(), [layer.name for layer in layers.values() if name in layer.inputs]
    while queue:
        layer = layers[queue.pop()]
        if layer.name in seen:
            continue
        seen.add(layer.name)
        if layer.type in NORMALISING:
            continue
        if layer.weighted or layer.variables is None:
            return False
        queue += layer.consumers
    return True


def _rate(subject: Subject) -> str:
    training = subject.spec.training
    if training is None:
        return ""
    optimizer = training.optimizer
    return f" ({optimizer.type} at learning rate {optimizer.learning_rate:g})"


def _input_scale(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    data = subject.data
    if data is None:
        return
    limit = options["input-scale"]
    for name, info in subject.analysis.inputs.items():
        stats = data.inputs.get(name)
        if stats is None or info.dtype.startswith(("int", "uint")) or _normalised(subject, name):
            continue
        reach = max(abs(stats.low), abs(stats.high))
        if reach <= limit and stats.std <= limit:
            continue
        yield Finding(
            info.path,
            f"{_data(subject, name, 'values')} reach {_shown(reach)} (mean {stats.mean:.3g}, spread {stats.std:.3g}), "
            f"and nothing rescales them before the first layer with weights{_rate(subject)}: initialisers and the "
            f"usual learning rates assume inputs near unit scale",
            hint="add `{type: rescaling, scale: ...}` (pixels: 1/255) or a `normalization` layer with the data's mean "
            "and variance first",
            layer=name,
        )


_SCALE_LAYERS = "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\n"
_SCALE_TRAINING = "training:\n  optimizer: adam\n  loss: binary_crossentropy\n"

MS603 = Rule(
    code="MS603",
    name="input-scale",
    level=Level.INFO,
    summary="input values in the data are far from unit scale and the spec does not rescale them",
    check=_input_scale,
    options={"input-scale": 10.0},
    docs=Docs(
        what="With data (`--data`), flags a floating-point input whose values reach beyond `input-scale` (10) in "
        "magnitude, or spread wider than it, when no `rescaling`, `normalization`, `batch_norm` or `layer_norm` "
        "layer stands between it and the first layer with weights: raw 0-255 pixels, prices, counts.",
        why="Glorot and He initialisers and the default learning rates assume inputs of about unit variance: "
        "inputs 100 times larger make the first layer's pre-activations 100 times larger (saturated tanh and "
        "sigmoid units, huge relu outputs) and its gradients 100 times larger, so one learning rate cannot suit "
        "every layer. Models often still train (Adam adapts per weight; Keras's oxford_pets example feeds raw "
        "0-255 pixels), hence info.",
        example=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\n",
            extra=_SCALE_TRAINING,
            input_shape="[2]",
        ),
        use_instead=spec(
            "  - {type: rescaling, scale: 0.00392156862745098}\n" + _SCALE_LAYERS,
            extra=_SCALE_TRAINING,
            input_shape="[2]",
        ),
        references=f"{LECUN_1998}\n{KERAS_PREPROCESSING}",
        data="red,green,ok\n255,12,1\n0,200,0\n128,64,1\n30,250,0\n",
        known_problems="Measured with `python benchmarks/data_rules.py inputs` (digits through a 64-unit relu "
        "layer, Adam 1e-3, 15 epochs, 3 seeds, the pixels scaled by a rescaling layer): pixels 0..16 fed raw reach "
        "0.962 validation accuracy against 0.964 rescaled to 0..1 (no harm); scaled to 0..255 they reach 0.938 "
        "with a validation loss of 1.84 against 0.14 (overconfident, 13 times the loss). Harm starts somewhere "
        "between 16 and 255 and is mostly in the loss, not the accuracy, and Keras's oxford_pets example trains on "
        "raw 0-255 pixels: info. The rule looks at the magnitude of the values, not at what a `rescaling` layer's "
        "scale makes of them, and trusts any normalising layer.",
    ),
)


# --- MS604 -----------------------------------------------------------------------------------------------------


def _target_scale(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    limit = options["target-scale"]
    training = subject.spec.training
    for name, stats, loss, index in _outputs(subject):
        if loss is None or loss.kind != REGRESSION or subject.analysis.producer_activation(name) != "linear":
            continue
        if abs(stats.mean) <= limit and stats.std <= limit:
            continue
        yield Finding(
            training.loss_path(index),
            f"{_data(subject, name, 'targets')} have mean {stats.mean:.4g} and spread {stats.std:.4g}: an output "
            f"initialised near 0 must move that far{_rate(subject)}, and {loss.type}'s gradients grow with the "
            f"error",
            hint=f"standardise the targets (subtract {stats.mean:.4g}, divide by {stats.std:.4g}) and undo it on "
            f"the predictions, or start the output's bias at the mean (`bias_initializer: "
            f"{{type: constant, value: {stats.mean:.4g}}}`)",
            layer=name,
        )


_TARGET_TRAINING = "training:\n  optimizer: adam\n  loss: mse\n"

MS604 = Rule(
    code="MS604",
    name="target-scale",
    level=Level.WARNING,
    summary="regression targets in the data are far from unit scale",
    check=_target_scale,
    options={"target-scale": 10.0},
    docs=Docs(
        what="With data (`--data`), flags a linear output scored by a regression loss whose targets have a mean "
        "or a spread beyond `target-scale` (10) in magnitude: prices in dollars, counts, years.",
        why="The output starts near 0, and an optimizer moves each weight by about its learning rate per step "
        "(Adam) or by the gradient times the rate (SGD): Adam at 0.001 needs about 100,000 steps to move a bias "
        "to 100, and SGD on squared errors of that size takes steps large enough to diverge. Standardised "
        "targets (or a bias started at the mean) remove both problems.",
        example=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, name: price, units: 1}\n",
            extra=_TARGET_TRAINING,
            input_shape="[2]",
        ),
        use_instead=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, name: price, units: 1}\n",
            extra=_TARGET_TRAINING,
            input_shape="[2]",
        ),
        references=f"{LECUN_1998}\n{doc_parts.KINGMA_2015}",
        data="x1,x2,price\n0.1,1.2,250000\n0.4,-0.3,180000\n-1.1,0.7,320000\n0.9,-1.4,99000\n",
        use_instead_data="x1,x2,price\n0.1,1.2,0.3\n0.4,-0.3,-0.5\n-1.1,0.7,1.4\n0.9,-1.4,-1.2\n",
        known_problems="Calibration: docs/calibration.md, MS604's row. "
        "Measured with `python benchmarks/data_rules.py scale` (2,000 rows, 8 features, targets "
        "m + s f(x), a 32-unit relu layer, mse, Adam 1e-3, 30 epochs, 3 seeds; the final validation loss divided by "
        "the targets' variance s², so that the scales compare): 0.13 for standardised targets (m 0, s 1), 0.34 for "
        "m 10, s 3 (2.6 times), 0.43 for m 100, s 30 (3.3 times), 8.3 for m 1000, s 300 (63 times: worse than "
        "predicting the mean). Every scale past the threshold trained measurably worse, hence a warning. Mean "
        "and spread grew together in the study, so which of them hurts is not separated; only Adam at 1e-3 was "
        "measured, and the rule does not weigh the learning rate (it quotes it). Targets of mean 10 already "
        "trained 2.6 times worse, yet are not reported: the threshold is conservative.",
    ),
)


# --- MS605 -----------------------------------------------------------------------------------------------------


def _constant_data(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    data = subject.data
    if data is None or data.rows < 2:
        return
    for name, info in subject.analysis.inputs.items():
        stats = data.inputs.get(name)
        if stats is None or not stats.constant:
            continue
        if len(stats.constant) == stats.features:
            message = f"every one of {_data(subject, name, 'values')} is {_shown(stats.low)}: the input carries nothing"
        else:
            count = len(stats.constant)
            message = (
                f"{count} of the {stats.features} features of '{name}' in {data.source} "
                + ("never changes (flat position " if count == 1 else "never change (flat positions ")
                + f"{_listing(list(stats.constant))}): they carry nothing the model can learn from"
            )
        yield Finding(info.path, message, hint="drop the constant features, or check how the data was made", layer=name)
    for name, stats, _, _ in _outputs(subject):
        if stats.low != stats.high:
            continue
        producer = subject.analysis.layers.get(name)
        yield Finding(
            producer.path if producer is not None else ("layers",),
            f"every one of {_data(subject, name, 'targets')} is {_shown(stats.low)}: there is nothing to learn, "
            f"and any model that outputs {_shown(stats.low)} is perfect",
            hint="check the target column (`--target`, `data.target`) and how the labels were made",
            layer=name,
        )


MS605 = Rule(
    code="MS605",
    name="constant-data",
    level=Level.INFO,
    summary="an input feature or a target in the data never changes",
    check=_constant_data,
    docs=Docs(
        what="With data (`--data`), flags input features whose value is the same in every row (per input, with "
        "the flat positions of the features), and a target that is the same for every example.",
        why="A constant feature carries no information: its weights learn only a bias, and standardising it "
        "divides by zero. A constant target usually means the wrong column was taken as the target, or the "
        "labels were lost: training reaches zero loss and learns nothing.",
        example=spec(_SCALE_LAYERS, extra=_SCALE_TRAINING, input_shape="[2]"),
        use_instead=spec(_SCALE_LAYERS, extra=_SCALE_TRAINING, input_shape="[2]"),
        references=LECUN_1998,
        data="a,b,ok\n0.5,1,1\n-0.2,1,0\n0.9,1,1\n-1.3,1,0\n",
        use_instead_data="a,b,ok\n0.5,0.1,1\n-0.2,-0.4,0\n0.9,0.3,1\n-1.3,1.2,0\n",
        known_problems="Image borders are often constant (the bundled digits have constant corner pixels), so "
        "the rule fires on working image data: it stays info. It reads the data it is given: a constant column "
        "in a small sample may vary in the full set.",
    ),
)


# --- MS606 -----------------------------------------------------------------------------------------------------

MIN_CLASSES = 3  # two values are a binary target, which regression losses fit well enough


def _classes_as_regression(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    for name, stats, loss, index in _outputs(subject):
        if loss is None or loss.kind != REGRESSION or stats.features != 1 or stats.values is None:
            continue
        values = [int(v) for v in stats.values]
        if len(values) < MIN_CLASSES or values != list(range(len(values))) or len(values) * 10 > stats.rows:
            continue
        yield Finding(
            training.loss_path(index),
            f"{_data(subject, name, 'targets')} are the whole numbers 0 to {values[-1]}, as class labels are, and "
            f"{loss.type} scores them as quantities on one unit: class 1 becomes halfway between 0 and 2, and a "
            f"prediction between two classes is neither",
            hint=f"if they are classes: give '{name}' {len(values)} units with softmax and use "
            "sparse_categorical_crossentropy; if they are counts or grades, this is fine",
            layer=name,
        )


_LABEL_DATA = "".join(f"{(i * 7) % 5 / 4:.2f},{(i * 3) % 7 / 6:.2f},{i % 3}\n" for i in range(30))

MS606 = Rule(
    code="MS606",
    name="classes-as-regression",
    level=Level.INFO,
    summary="one-unit regression targets in the data look like class labels (0, 1, 2, ...)",
    check=_classes_as_regression,
    docs=Docs(
        what="With data (`--data`), flags a one-unit output scored by a regression loss whose targets are exactly "
        "the whole numbers 0 to k-1 (k of at least 3, each seen ten times on average or more): the look of class "
        "labels.",
        why="Squared or absolute error on class numbers makes the classes an ordered scale: the model is "
        "rewarded for predicting 1 when unsure between 0 and 2, and its rounded outputs are poor classes. A "
        "softmax output with one unit per class and sparse categorical cross-entropy scores classes as classes. "
        "Counts and grades also look like this, hence info.",
        example=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, name: kind, units: 1}\n",
            extra="training:\n  optimizer: adam\n  loss: mse\n",
            input_shape="[2]",
        ),
        use_instead=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, name: kind, units: 3, "
            "activation: softmax}\n",
            extra="training:\n  optimizer: adam\n  loss: sparse_categorical_crossentropy\n",
            input_shape="[2]",
        ),
        references=doc_parts.KERAS_LOSSES,
        data="a,b,kind\n" + _LABEL_DATA,
        known_problems="Not measured against training: a heuristic on the look of the targets, info. Counts, "
        "ratings and grades are whole numbers from 0 too, and the rule cannot tell them from classes.",
    ),
)

RULES = (MS601, MS602, MS603, MS604, MS605, MS606)
