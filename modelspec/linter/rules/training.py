"""Training rules (MS301–MS303): the loss against the output layer, and the learning rate."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject, Suggestion
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.training import BINARY, CATEGORICAL, REGRESSION


def _pairs(subject: Subject) -> Iterator[tuple]:
    """Yield (output layer, its activation, its width, loss, path of the loss) for every output with a loss."""
    training = subject.spec.training
    if training is None:
        return
    for index, (name, loss) in enumerate(subject.analysis.losses.items()):
        activation = subject.analysis.producer_activation(name)
        if activation is None:
            continue
        shape = subject.analysis.layers[name].output_shape
        yield name, activation, (shape[-1] if shape else None), loss, training.loss_path(index)


def _squashed_twice(loss, name: str, activation: str, squash: str, raw: tuple[str, ...]):
    """from_logits: true wants raw scores; a squashing output gets squashed a second time."""
    if activation in raw:
        return None
    return (
        f"{loss.type} has from_logits: true but '{name}' ends in {activation}: the loss applies {squash} "
        f"again to values that are already squashed",
        f"remove the {activation} (a linear output) or set `from_logits: false`",
        None,
    )


def _raw_scores(loss, name: str, squash: str):
    """from_logits: false on a linear output: the scores are read as probabilities."""
    return (
        f"'{name}' is linear but {loss.type} has from_logits: false: the loss reads raw scores as "
        f"probabilities and clips them into [1e-7, 1 − 1e-7]",
        f"set `from_logits: true` on the loss, or `activation: {squash}` on the output",
        Suggestion(activation=squash),  # the squashing the loss expects: the fix that keeps the loss as written
    )


def _categorical(loss, name: str, activation: str):
    if loss.from_logits:
        return _squashed_twice(loss, name, activation, "softmax", ("linear", "log_softmax"))
    if activation == "linear":
        return _raw_scores(loss, name, "softmax")
    if activation != "softmax":
        return (
            f"{loss.type} expects a softmax output (a distribution over classes), but '{name}' ends in {activation}",
            "use `activation: softmax` (or a linear output with `from_logits: true`)",
            Suggestion(activation="softmax"),
        )
    return None


def _binary(loss, name: str, activation: str):
    if loss.from_logits:
        return _squashed_twice(loss, name, activation, "sigmoid", ("linear",))
    if activation == "linear":
        return _raw_scores(loss, name, "sigmoid")
    if activation == "softmax":
        return (
            f"{loss.type} on a softmax output: softmax makes the units compete (with one unit it is always 1), but "
            f"binary cross-entropy scores each unit as an independent probability",
            "use `activation: sigmoid` (multi-label) or categorical_crossentropy (one class)",
            None,
        )
    if activation not in ("sigmoid", "hard_sigmoid"):
        return (
            f"{loss.type} expects probabilities in [0, 1] (sigmoid), but '{name}' ends in {activation}",
            "use `activation: sigmoid`",
            Suggestion(activation="sigmoid"),
        )
    return None


def _regression(loss, name: str, activation: str):
    if activation == "softmax":
        return (
            f"{loss.type} on the softmax classifier '{name}': squared error on probabilities gives vanishing "
            f"gradients exactly when the model is confidently wrong",
            "use categorical_crossentropy",
            Suggestion(loss="categorical_crossentropy"),
        )
    return None


# Per loss kind: (loss, output name, its activation) -> (message, hint, suggestion), or None when they fit.
_JUDGES = {CATEGORICAL: _categorical, BINARY: _binary, REGRESSION: _regression}


# Keras 3 (TensorFlow) keeps a sigmoid's or softmax's input on its output tensor, and these losses read it from
# there as logits when from_logits is false: a sigmoid head under categorical cross-entropy, or a softmax head under
# binary cross-entropy, trains as the matching head would (calibrated: docs/calibration.md, MS301's row).
_READS_LOGITS = frozenset({"categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"})


def _trains_on_logits(subject: Subject, name: str, activation: str, loss) -> bool:
    """Whether the output layer itself applies sigmoid or softmax (more than one unit) and the loss reads its
    logits: the mismatch then changes what the outputs mean, not how the model trains."""
    info = subject.analysis.layers[name]
    width = info.output_shape[-1] if info.output_shape else None
    return (
        loss.type in _READS_LOGITS
        and not loss.from_logits
        and activation in ("sigmoid", "softmax")
        and info.spec.applied_activation() == activation
        and width != 1
    )


def _loss_activation_mismatch(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for name, activation, _, loss, path in _pairs(subject):
        judge = _JUDGES.get(loss.kind)
        found = judge(loss, name, activation) if judge is not None else None
        if not found:
            continue
        if _trains_on_logits(subject, name, activation, loss):
            outputs = (
                "per-class sigmoids that do not sum to 1"
                if activation == "sigmoid"
                else "a softmax (summing to 1), not independent per-class probabilities"
            )
            message = (
                f"{found[0]}. Training is not affected: Keras 3 computes {loss.type} from the logits that "
                f"{activation} keeps, but the trained model's outputs are {outputs}"
            )
            yield Finding(path, message, hint=found[1], layer=name, level=Level.INFO, suggests=found[2])
        else:
            yield Finding(path, found[0], hint=found[1], layer=name, suggests=found[2])


MS301 = Rule(
    code="MS301",
    name="loss-activation-mismatch",
    level=Level.ERROR,
    summary="the loss does not fit the output layer's activation",
    check=_loss_activation_mismatch,
    docs=Docs(
        what="Flags a loss that does not fit the activation of the output it scores: categorical cross-entropy on "
        "a sigmoid, tanh or relu output, binary cross-entropy on softmax, a regression loss on a softmax "
        "classifier, `from_logits: true` with a squashing output, a linear output with `from_logits: false`. "
        "A sigmoid head (or a softmax head of several units) that Keras 3 trains on its logits anyway is "
        "reported at info level (see Known problems).",
        why="Cross-entropy losses take either probabilities or logits, and Keras cannot tell which it got. A linear "
        "output read as probabilities is clipped to [1e-7, 1 − 1e-7] and the gradient disappears; probabilities "
        "read as logits are squashed a second time; squared error on softmax saturates when the model is most "
        "wrong. The model trains badly or not at all, without any error message.",
        example=spec(
            "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 10}\n",
            extra="training:\n  optimizer: adam\n  loss: categorical_crossentropy\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: adam\n  loss: categorical_crossentropy\n",
        ),
        references=doc_parts.KERAS_LOSSES,
        known_problems="Calibrated (docs/calibration.md, MS301's row; `benchmarks/calibration.py --only "
        "loss,head,units`; digits MLP, Adam, 2 seeds): a linear output under sparse categorical cross-entropy "
        "with from_logits: false ends at 0.36 accuracy against softmax's 0.97, as the rule says: an error. But "
        "a sigmoid output under the same loss trains bit for bit as softmax does, on the dense layer as on a "
        "separate `activation` layer (val_loss 0.131 in both), and binary cross-entropy on a 10-unit softmax "
        "head (one-hot digits) ends at 0.951 categorical accuracy against categorical cross-entropy's 0.967 "
        "(1.75× the epochs to the target, within the criteria): Keras 3's sigmoid and softmax keep their input "
        "as the tensor's logits, and the cross-entropy losses use those logits instead of the squashed "
        "values. Those cases, where the output layer itself applies the activation, are therefore info: what "
        "remains true is that the trained model's outputs are per-class sigmoids that do not sum to 1 (or a "
        "softmax where independent probabilities were meant). Behind another layer (dropout, reshape) the "
        "logits are lost and the case stays an error, not measured. One softmax unit under binary "
        "cross-entropy trains its logit too, but its output is always 1 (binary accuracy 0.505 against "
        "sigmoid's 0.784): an error, with MS302. tanh or relu outputs and a regression loss on softmax were "
        "not trained. The measurement holds for modelspec's TensorFlow backend of Keras 3.",
    ),
)


def _output_units_loss(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for name, activation, width, loss, path in _pairs(subject):
        if width != 1:
            continue
        if loss.kind == CATEGORICAL:
            yield Finding(
                path,
                f"{loss.type} needs one output unit per class, but '{name}' has 1: over a single "
                f"unit softmax is always 1 and the loss is constant",
                hint="set `units:` to the number of classes, or use one sigmoid unit with binary_crossentropy",
                layer=name,
                # One unit: the binary reading is the only one a fix can write; the number of classes is the author's
                suggests=Suggestion(
                    activation=None if activation == "sigmoid" else "sigmoid", loss="binary_crossentropy"
                ),
            )
        elif activation == "softmax":
            yield Finding(
                path,
                f"'{name}' has 1 unit with softmax: its output is always 1, whatever the input",
                hint="use `activation: sigmoid` for one probability",
                layer=name,
                suggests=Suggestion(activation="sigmoid"),
            )


MS302 = Rule(
    code="MS302",
    name="output-units-loss",
    level=Level.ERROR,
    summary="output units incompatible with the loss",
    check=_output_units_loss,
    docs=Docs(
        what="Flags an output whose number of units cannot work with its loss: categorical (or sparse categorical) "
        "cross-entropy on 1 unit, or a 1-unit softmax output under any loss.",
        why="Softmax over one unit is exp(z)/exp(z) = 1 for every input, so the output is constant, the loss is "
        "constant and the gradient is zero: nothing trains. Binary problems need one sigmoid unit with binary "
        "cross-entropy, or two softmax units.",
        example=spec(
            "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 1, activation: softmax}\n",
            extra="training:\n  optimizer: adam\n  loss: categorical_crossentropy\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\n",
            extra="training:\n  optimizer: adam\n  loss: binary_crossentropy\n",
        ),
        known_problems="Calibrated (docs/calibration.md, MS302's row; `benchmarks/calibration.py --only units "
        "--seeds 2`; "
        "digits, 12 epochs, 2 seeds on a synthetic binary task): one softmax unit under binary cross-entropy "
        "trains its logit (the loss reads it, as for MS301) yet its output is always 1, binary accuracy 0.505 "
        "against a sigmoid unit's 0.784; categorical cross-entropy on one sigmoid unit has a loss of 0 "
        "whatever the weights (0.516): an error.",
        references=doc_parts.KERAS_LOSSES,
    ),
)


def _learning_rate_range(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    if training is None:
        return
    optimizer = training.optimizer
    low, high = optimizer.USUAL_LEARNING_RATES
    rates = [(("training", "optimizer", "learning_rate"), optimizer.learning_rate)]
    schedule = training.learning_rate_schedule
    if schedule is not None and schedule.type == "piecewise_constant":
        rates = [(("training", "learning_rate_schedule", "values", i), v) for i, v in enumerate(schedule.values)]
    elif schedule is not None and schedule.type == "cosine_decay" and schedule.warmup_target is not None:
        rates.append((("training", "learning_rate_schedule", "warmup_target"), schedule.warmup_target))
    for path, rate in rates:
        if low <= rate <= high:
            continue
        where = "above" if rate > high else "below"
        effect = "training is likely to diverge" if rate > high else "training will barely move"
        yield Finding(
            path,
            f"learning rate {rate:g} is {where} the usual range of {optimizer.type} ({low:g} to {high:g}): {effect}",
            hint=f"start from {optimizer.START_LEARNING_RATE:g} and tune from there",
        )


MS303 = Rule(
    code="MS303",
    name="learning-rate-range",
    level=Level.WARNING,
    summary="learning rate outside the usual range for the optimizer",
    check=_learning_rate_range,
    docs=Docs(
        what="Flags a learning rate (the optimizer's, a piecewise schedule's values, a warm-up target) outside "
        "the usual range of its optimizer: sgd and adagrad 1e-4 to 1, adam and adamw 1e-5 to 0.03, nadam and "
        "rmsprop 1e-5 to 1e-2.",
        why="Adaptive optimizers normalise each step by the gradient's running scale, so their useful rates are "
        "about 100 times smaller than plain SGD's; a rate meant for SGD makes Adam diverge, and an Adam-sized "
        "rate makes SGD crawl.",
        example=spec(
            "  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: {type: adam, learning_rate: 0.5}\n  loss: categorical_crossentropy\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 10, activation: softmax}\n",
            extra="training:\n  optimizer: {type: adam, learning_rate: 0.001}\n  loss: categorical_crossentropy\n",
        ),
        references=doc_parts.KINGMA_2015,
        known_problems="The ranges are per optimizer, not per model: the rate a model tolerates also depends on "
        "the batch size, the loss's scale and normalisation. Calibrated on a digits MLP and a synthetic regression "
        "MLP, 3 seeds, 12 epochs (docs/calibration.md, docs/calibration/learning_rate.png; re-run with "
        "`benchmarks/calibration.py --only lr`): Adam at 0.01 and 0.03 stays within the criteria of its start "
        "rate 1e-3 (val_loss 0.068 and 0.15 against "
        "0.13; so "
        "Adam's and AdamW's upper bound is 0.03, not 1e-2: the tune example's 0.0133 reached val_loss 0.077); at "
        "0.1 its validation loss ends 70% worse and at 1 it does not learn; at 1e-6 (÷1000) it does not reach 90% "
        "of the start rate's accuracy in 12 epochs. On the regression MLP the picture differs: Adam at 0.1 ends "
        "with a quarter of the start rate's loss (1e-3 is slow there) and at 1 learns nothing (loss 1.07, the "
        "target's variance), which the relative criterion does not call worse because the start rate is poor too. "
        "SGD at 10 diverges and at 1e-5 does not move. Nadam's, "
        "RMSprop's and Adagrad's bounds were not measured (they keep the textbook ranges), nor the rates between "
        "the points measured: the true edge lies between 0.03 and 0.1 for Adam on digits. Below the range "
        "the harm is a budget: with enough epochs a small rate gets there.",
    ),
)
