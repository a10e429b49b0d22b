"""Fitting rules (MS304–MS308): what `modelspec train` does with the training block's validation, callbacks and
class weights.

What Keras 3 logs during `fit` (checked against Keras 3.15 with models built by modelspec): `loss`, and every
compiled metric under its canonical name (`accuracy`, `mean_squared_error`, `auc`...); a model with several outputs
logs, beside the total `loss`, `<output>_loss` and `<output>_<metric>` for each output and no bare metric names; on
validation data every name again with `val_` in front.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Optional

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject, Suggestion
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.training import BINARY, METRICS, REGRESSION, Training, canonical_metric, logged_quantities

KERAS_FIT = "Keras Model.fit (validation_split, validation_data, class_weight): https://keras.io/api/models/model_training_apis/"
KERAS_EARLY_STOPPING = "Keras EarlyStopping: https://keras.io/api/callbacks/early_stopping/"
KERAS_PLATEAU = "Keras ReduceLROnPlateau: https://keras.io/api/callbacks/reduce_lr_on_plateau/"
KERAS_SCHEDULES = "Keras learning rate schedules: https://keras.io/api/optimizers/learning_rate_schedules/"
KERAS_IMBALANCED = (
    "Keras example, imbalanced classification with class weights: "
    "https://keras.io/examples/structured_data/imbalanced_classification/"
)
VALIDATION = "val_"
# The callbacks that watch a logged quantity: field under `training:`, and what it does when the quantity stalls.
CALLBACKS = (("early_stopping", "stops training"), ("reduce_lr_on_plateau", "lowers the learning rate"))


def _monitors(training: Optional[Training]) -> Iterator[tuple[str, object, str]]:
    """Yield (field, settings, what it does) for each monitoring callback the training block sets."""
    if training is None:
        return
    for field, action in CALLBACKS:
        settings = getattr(training, field)
        if settings is not None:
            yield field, settings, action


# --- MS304 ---------------------------------------------------------------------------------------------------


def _monitor_without_validation(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    for field, settings, action in _monitors(training):
        if settings.monitor.startswith(VALIDATION) and training.validation_split is None:
            yield Finding(
                ("training", field, "monitor"),
                f"{field} monitors {settings.monitor}, but the spec sets no validation_split: without validation "
                f"data Keras logs no val_ quantities, warns every epoch and never {action}",
                hint="set `validation_split: 0.2` under training:, or pass `modelspec train --validation-data DATA`",
            )


_VAL_BODY = "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 10, activation: softmax}\n"
_TRAINING = "training:\n  optimizer: adam\n  loss: categorical_crossentropy\n  metrics: [accuracy]\n  epochs: 50\n"

MS304 = Rule(
    code="MS304",
    name="monitor-without-validation",
    level=Level.WARNING,
    summary="early stopping or learning-rate reduction watches a val_ quantity, but the spec holds out no data",
    check=_monitor_without_validation,
    docs=Docs(
        what="Flags `early_stopping` or `reduce_lr_on_plateau` monitoring a validation quantity (`val_loss`, "
        "`val_accuracy`...; `val_loss` is their default) in a spec that sets no `training.validation_split`.",
        why="Keras logs `val_` quantities only when `fit` gets validation data. Without it the callback finds "
        "nothing to watch: Keras prints a warning at the end of every epoch and the callback never acts, so "
        "training runs every epoch and the learning rate never drops, which is exactly what the callback was "
        "added to prevent. The data can also come from the command line (`modelspec train --validation-data`), "
        "hence a warning, not an error.",
        example=spec(_VAL_BODY, extra=_TRAINING + "  early_stopping: {monitor: val_loss, patience: 5}\n"),
        use_instead=spec(
            _VAL_BODY,
            extra=_TRAINING + "  validation_split: 0.2\n  early_stopping: {monitor: val_loss, patience: 5}\n",
        ),
        known_problems="Calibration: docs/calibration.md, MS304's row: not a training degradation but a setting "
        "Keras drops: "
        "its EarlyStopping and ReduceLROnPlateau warn once that the quantity is not available and never act "
        "(tests/test_fitting_rules.py::test_keras_never_acts_on_a_quantity_the_run_does_not_log), so the run "
        "goes on to its last epoch. Kept a warning because the spec asks for something the run silently does "
        "not do.",
        references=f"{KERAS_EARLY_STOPPING}\n{KERAS_FIT}",
    ),
)


# --- MS305 ---------------------------------------------------------------------------------------------------


def _shown(names: list[str], limit: int = 6) -> str:
    listed = ", ".join(names[:limit])
    return listed + (f" and {len(names) - limit} more" if len(names) > limit else "")


# A hint, and the one quantity it names (None: it leaves a choice).
_Hint = tuple[str, Optional[str]]


def _metric_hint(prefix: str, base: str, training: Training, outputs: list[str], logged: list[str]) -> Optional[_Hint]:
    """The hint when the monitored name (without `val_`) is a metric's name or alias."""
    metric = canonical_metric(base)
    spelled = [name for name in logged if canonical_metric(name) == metric]
    if spelled:
        name = prefix + spelled[0]
        return f"monitor `{name}`: Keras logs a metric under the name training.metrics gives it", name
    if metric not in METRICS:
        return None
    if metric not in map(canonical_metric, training.metrics):
        where = f"`{prefix}{metric}`" if len(outputs) == 1 else f"`{prefix}{outputs[0]}_{metric}` (one per output)"
        return (
            f"add {metric} to training.metrics so that Keras computes it, then monitor {where}; "
            f"or monitor {prefix}loss",
            None,
        )
    names = " or ".join(f"`{prefix}{output}_{metric}`" for output in outputs[:3])
    return f"this model has {len(outputs)} outputs, so Keras logs {metric} per output: monitor {names}", None


def _output_name_hint(prefix: str, base: str, outputs: list[str], logged: list[str]) -> Optional[_Hint]:
    """The hint when a one-output model's monitor names its output (`out_loss`): Keras logs `loss`."""
    own = f"{outputs[0]}_"
    if len(outputs) != 1 or not base.startswith(own):
        return None
    quantity = base[len(own) :]
    quantity = next((name for name in logged if canonical_metric(name) == canonical_metric(quantity)), quantity)
    if quantity not in logged:
        return None
    name = prefix + quantity
    return f"monitor `{name}`: a model with one output logs its quantities without the output's name", name


def _unknown_monitor_hint(monitor: str, training: Training, outputs: list[str], logged: list[str]) -> _Hint:
    prefix = VALIDATION if monitor.startswith(VALIDATION) else ""
    base = monitor[len(prefix) :]
    hint = _metric_hint(prefix, base, training, outputs, logged) or _output_name_hint(prefix, base, outputs, logged)
    if hint is not None:
        return hint
    close = difflib.get_close_matches(monitor, [prefix + name for name in logged], n=1)
    if close:
        return f"did you mean '{close[0]}'?", close[0]
    metric = difflib.get_close_matches(base, METRICS, n=1)
    if metric:
        words, name = _metric_hint(prefix, metric[0], training, outputs, logged)
        return f"did you mean the metric {metric[0]}? {words}", None
    return f"monitor one of: {_shown([prefix + name for name in logged])}", None


def _monitor_unknown(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    outputs = subject.analysis.outputs
    for field, settings, action in _monitors(training):
        logged = logged_quantities(training, outputs)
        monitor = settings.monitor
        if monitor.removeprefix(VALIDATION) in logged:
            continue
        hint, quantity = _unknown_monitor_hint(monitor, training, outputs, logged)
        yield Finding(
            ("training", field, "monitor"),
            f"{field} monitors {monitor}, which this model never logs (it logs {_shown(logged)}, each also with "
            f"val_): Keras either stops with a ValueError after the first epoch or warns every epoch and never "
            f"{action}",
            hint=hint,
            suggests=Suggestion(monitor=quantity) if quantity else None,
        )


_UNKNOWN_TRAINING = (
    "training:\n  optimizer: adam\n  loss: categorical_crossentropy\n  metrics: [accuracy]\n  epochs: 50\n"
    "  validation_split: 0.2\n"
)

MS305 = Rule(
    code="MS305",
    name="monitor-unknown",
    level=Level.ERROR,
    summary="early stopping or learning-rate reduction watches a quantity the model never logs",
    check=_monitor_unknown,
    docs=Docs(
        what="Flags an `early_stopping` or `reduce_lr_on_plateau` `monitor` that is not a quantity Keras logs for "
        "this model: `loss`, or a metric listed in `training.metrics`, under the name written there, each also "
        "with `val_` (Keras 3 logs `metrics: [acc]` as `acc` and `val_acc`, and `accuracy` as `accuracy`; "
        "modelspec compiles Keras's own aliases acc, mse, mae and mape as written, and any other spelling, such "
        "as `rmse` or `Accuracy`, under its full name). A model with several outputs logs, beside the total "
        "`loss`, `<output>_loss` and `<output>_<metric>` for each output, and no bare metric names. The hint "
        "suggests the name meant.",
        why="The callback looks its quantity up by name at the end of every epoch. A name that is never logged "
        "(a misspelling, an alias, a metric that is not compiled, a bare metric name on a multi-output model) "
        "makes Keras either stop with a ValueError after the first epoch, when it cannot tell whether the "
        "quantity should rise or fall, or print a warning every epoch while the callback does nothing: the "
        "run never stops early and the learning rate never drops.",
        example=spec(_VAL_BODY, extra=_UNKNOWN_TRAINING + "  early_stopping: {monitor: val_acc, patience: 5}\n"),
        use_instead=spec(
            _VAL_BODY, extra=_UNKNOWN_TRAINING + "  early_stopping: {monitor: val_accuracy, patience: 5}\n"
        ),
        known_problems="Calibration: docs/calibration.md, MS305's row: Keras drops the callback (a warning in the "
        "log, the "
        "run goes on to its last epoch; "
        "tests/test_fitting_rules.py::test_keras_never_acts_on_a_quantity_the_run_does_not_log) and "
        "modelspec's build refuses the spec. "
        "Until issue 17, modelspec rewrote `acc` to `accuracy` before compiling, so a run logged "
        "`val_accuracy` where the Keras script it was written from logged `val_acc`, and MS305 was right about "
        "modelspec's build only (keras-io's ct_scan_3d_classification, `metrics: [acc]` with "
        "EarlyStopping(monitor='val_acc')). Keras's aliases are now compiled as written, and a test fits one step "
        "with real Keras and reads the history's keys. Custom metrics (Keras objects with their own `name`) "
        "cannot be written in a spec, so the rule never has to guess their names.",
        references=f"{KERAS_EARLY_STOPPING}\n{KERAS_PLATEAU}",
    ),
)


# --- MS306 ---------------------------------------------------------------------------------------------------

_CLASS_WEIGHT = ("training", "class_weight")


def _several_outputs(outputs: list[str]) -> Finding:
    return Finding(
        _CLASS_WEIGHT,
        f"class_weight on a model with {len(outputs)} outputs ({_shown(outputs, 3)}): Keras supports class "
        f"weights only for a single output and `fit` stops with a ValueError before the first step",
        hint="remove class_weight, or train each output in a model of its own",
    )


def _no_classes(loss, name: str) -> Finding:
    return Finding(
        _CLASS_WEIGHT,
        f"class_weight with {loss.type}, which scores real values, not classes: Keras rounds each target of "
        f"'{name}' to an integer and weighs the example as if that were its class",
        hint="remove class_weight, or use a classification loss (categorical or binary cross-entropy)",
        layer=name,
    )


def _multi_label(loss, name: str, width: int) -> Finding:
    return Finding(
        _CLASS_WEIGHT,
        f"class_weight on '{name}', {width} sigmoid units scored one by one by {loss.type} (multi-label): "
        f"Keras weighs each example by the argmax of its label vector, its first positive label, not each "
        f"label by its class",
        hint="remove class_weight; for rare positive labels try binary_focal_crossentropy",
        layer=name,
    )


def _key_path(subject: Subject, key: int) -> tuple:
    """Where the class index is written: the key as an integer, or as the quoted string YAML needs."""
    for written in (key, str(key)):
        if (*_CLASS_WEIGHT, written) in subject.document.key_locations:
            return (*_CLASS_WEIGHT, written)
    return _CLASS_WEIGHT


def _out_of_range(
    subject: Subject, weights: dict[int, float], name: str, width: int, binary: bool
) -> Iterator[Finding]:
    """Class indices the output cannot produce: one per unit, or 0 and 1 for one binary unit."""
    classes = 2 if binary else width
    if classes < 2:  # a one-unit categorical output is MS302's
        return
    shifted = min(weights) >= 1 and max(weights) == classes
    if binary:
        what = "one unit, whose classes are 0 and 1"
    else:
        what = f"{classes} units, classes 0 to {classes - 1}"
    for key in sorted(weights):
        if key < classes:
            continue
        yield Finding(
            _key_path(subject, key),
            f"class_weight names class {key}, but '{name}' has {what}: no label is ever {key}, so Keras never "
            f"uses that weight",
            hint="class indices count from 0: shift every index down by one"
            if shifted
            else f"give weights for classes {'0 and 1' if binary else f'0 to {classes - 1}'} only",
            layer=name,
        )


def _class_weight_mismatch(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    if training is None or training.class_weight is None:
        return
    outputs = subject.analysis.outputs
    if len(outputs) > 1:
        yield _several_outputs(outputs)
        return
    name = outputs[0]
    loss = training.loss[0] if isinstance(training.loss, list) else training.loss
    shape = subject.analysis.layers[name].output_shape if name in subject.analysis.layers else None
    width = shape[-1] if shape else None
    if loss.kind == REGRESSION:
        yield _no_classes(loss, name)
    elif loss.kind == BINARY and width is not None and width > 1:
        yield _multi_label(loss, name, width)
    elif isinstance(training.class_weight, dict) and training.class_weight and width is not None:
        yield from _out_of_range(subject, training.class_weight, name, width, loss.kind == BINARY)


_CW_TRAINING = "training:\n  optimizer: adam\n  loss: binary_crossentropy\n  epochs: 20\n"

MS306 = Rule(
    code="MS306",
    name="class-weight-mismatch",
    level=Level.ERROR,
    summary="class_weight that the model's output and loss cannot use",
    check=_class_weight_mismatch,
    docs=Docs(
        what="Flags `training.class_weight` on a model with several outputs, with a regression loss (no classes), "
        "on a multi-label output (several sigmoid units under binary cross-entropy), or naming a class index "
        "that the output cannot produce: an index not below its number of units (one sigmoid unit has classes "
        "0 and 1). Hinge, divergence and count losses are not flagged: some of them take class labels.",
        why="Keras turns class weights into per-example weights by reading each example's label as a class "
        "index: the argmax of a one-hot or multi-hot label, else the label rounded to an integer. On a model "
        "with several outputs `fit` refuses class weights with a ValueError. On real-valued targets the rounded "
        "value becomes a 'class', and on multi-label targets only the first positive label counts. An index "
        "that no label ever takes is silently ignored, and with 1-based indices class 0 silently keeps weight "
        "1 while the weight meant for it goes to the next class.",
        example=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 1}\n",
            extra=_CW_TRAINING.replace("binary_crossentropy", "mse") + "  class_weight: balanced\n",
        ),
        use_instead=spec(
            "  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 1, activation: sigmoid}\n",
            extra=_CW_TRAINING + "  class_weight: balanced\n",
        ),
        known_problems="Calibration: docs/calibration.md, MS306's row: Keras refuses class_weight on a model with "
        "several "
        "outputs (tests/test_fitting_rules.py::test_keras_refuses_class_weight_on_two_outputs). The other "
        "cases (a regression loss, indices outside the output) were not run against Keras.",
        references=f"{KERAS_FIT}\n{KERAS_IMBALANCED}",
    ),
)


# --- MS307 ---------------------------------------------------------------------------------------------------


def _plateau_with_schedule(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    if training is None or training.reduce_lr_on_plateau is None or training.learning_rate_schedule is None:
        return
    yield Finding(
        ("training", "reduce_lr_on_plateau"),
        f"reduce_lr_on_plateau and a learning_rate_schedule ({training.learning_rate_schedule.type}) both "
        f"drive the learning rate: the schedule owns it, so at the first plateau Keras cannot set it and training "
        f"stops with a TypeError",
        hint="keep one of the two: remove learning_rate_schedule (a fixed rate that the callback lowers) or "
        "remove reduce_lr_on_plateau",
    )


_PLATEAU_BODY = "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 1}\n"
_PLATEAU_TRAINING = (
    "training:\n  optimizer: {type: sgd, learning_rate: 0.01}\n  loss: mse\n  epochs: 50\n  validation_split: 0.2\n"
)

MS307 = Rule(
    code="MS307",
    name="plateau-with-schedule",
    level=Level.ERROR,
    summary="reduce_lr_on_plateau together with a learning_rate_schedule: training stops at the first plateau",
    check=_plateau_with_schedule,
    docs=Docs(
        what="Flags `training.reduce_lr_on_plateau` in a spec that also sets `training.learning_rate_schedule`.",
        why="ReduceLROnPlateau lowers the rate by assigning the optimizer's learning rate. An optimizer built "
        "with a schedule computes its rate from the step count and refuses the assignment: at the first "
        "plateau, possibly hours into the run, `fit` stops with a TypeError ('its learning rate is not "
        "settable'). The two are alternative ways to lower the rate: pick one.",
        example=spec(
            _PLATEAU_BODY,
            extra=_PLATEAU_TRAINING + "  learning_rate_schedule: {type: exponential_decay, decay_steps: 1000, "
            "decay_rate: 0.9}\n  reduce_lr_on_plateau: {factor: 0.5, patience: 3}\n",
        ),
        use_instead=spec(
            _PLATEAU_BODY, extra=_PLATEAU_TRAINING + "  reduce_lr_on_plateau: {factor: 0.5, patience: 3}\n"
        ),
        known_problems="Calibration: docs/calibration.md, MS307's row: Keras raises when the callback lowers a "
        "scheduled "
        "rate (tests/test_fitting_rules.py::test_keras_cannot_lower_a_scheduled_learning_rate).",
        references=f"{KERAS_PLATEAU}\n{KERAS_SCHEDULES}",
    ),
)


# --- MS308 ---------------------------------------------------------------------------------------------------


def _epochs(count: int) -> str:
    return f"{count} epoch" + ("" if count == 1 else "s")


def _patience_outlasts_epochs(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    training = subject.spec.training
    for field, settings, action in _monitors(training):
        # Both callbacks act at the end of epoch max(patience, 1) (counting from 0) at the earliest; acting at the
        # end of the last epoch changes nothing.
        if max(settings.patience, 1) < training.epochs - 1:
            continue
        fix = f"raise `epochs`, or lower patience to at most {training.epochs - 2}" if training.epochs > 2 else ""
        yield Finding(
            ("training", field, "patience"),
            f"{field} waits {_epochs(settings.patience)} without improvement, but training runs "
            f"{_epochs(training.epochs)}: it cannot act before the last epoch ends, so it never {action} while "
            f"there is training left",
            hint=fix or "raise `epochs` (or pass `modelspec train --epochs N`): the callback needs epochs to act on",
        )


MS308 = Rule(
    code="MS308",
    name="patience-outlasts-epochs",
    level=Level.INFO,
    summary="early stopping or learning-rate reduction is too patient to act within the spec's epochs",
    check=_patience_outlasts_epochs,
    docs=Docs(
        what="Flags `early_stopping` or `reduce_lr_on_plateau` whose `patience` leaves it no epoch to act on: "
        "each can act at the earliest at the end of epoch patience + 1 (epoch 2 with patience 0), and acting "
        "after the last epoch changes nothing. `epochs` defaults to 1, so a spec that adds early stopping "
        "without setting `epochs` is flagged too.",
        why="Early stopping is meant to end a long run once the monitored quantity stalls; with patience at or "
        "beyond the number of epochs the run always goes to the end, and a plateau never lowers the learning "
        "rate. The usual pattern is a generous `epochs` with a small patience. Info: `modelspec train --epochs` "
        "can give more epochs than the spec.",
        example=spec(
            _VAL_BODY,
            extra=_UNKNOWN_TRAINING.replace("epochs: 50", "epochs: 10")
            + "  early_stopping: {monitor: val_loss, patience: 10}\n",
        ),
        use_instead=spec(
            _VAL_BODY,
            extra=_UNKNOWN_TRAINING.replace("epochs: 50", "epochs: 100")
            + "  early_stopping: {monitor: val_loss, patience: 10}\n",
        ),
        references=KERAS_EARLY_STOPPING,
    ),
)
