"""Distribution rules (MS309–MS311): what goes wrong only when `training.distribute` trains on several replicas.

Lint is pure and deterministic: it never looks at the machine (its GPUs) or the environment (TF_CONFIG). It
counts replicas only where the spec fixes them, a `mirrored` device list (`Distribute.replicas`); with the
machine's own GPUs or a cluster, the runtime checks the same things once it knows the count (docs/distributed.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Optional

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules import doc_parts
from modelspec.linter.rules.doc_parts import spec
from modelspec.schema.distribute import MULTI_WORKER_MIRRORED, Distribute
from modelspec.schema.training import Training

DISTRIBUTED_DOC = "modelspec's distributed training: docs/distributed.md"
TF_DISTRIBUTED = "TensorFlow, distributed training: https://www.tensorflow.org/guide/distributed_training"
TF_INPUT = "TensorFlow, distributed input (global and per-replica batch): https://www.tensorflow.org/tutorials/distribute/input"
# The batch a spec trains with when it sets none (Keras's default too): the size the single-device rates go with.
SINGLE_DEVICE_BATCH = Training.model_fields["batch_size"].default
_DISTRIBUTE = ("training", "distribute")


def _written(subject: Subject, path: tuple) -> bool:
    return path in subject.document.key_locations


def _distribute(subject: Subject) -> Optional[Distribute]:
    training = subject.spec.training
    return training.distribute if training is not None else None


# --- MS309 ---------------------------------------------------------------------------------------------------


def _shares(batch: int, replicas: int) -> str:
    """How TensorFlow splits ``batch`` examples over ``replicas``: the first ones get one example more."""
    low, extra = divmod(batch, replicas)
    sizes = [low + 1] * extra + [low] * (replicas - extra)
    shown = ", ".join(map(str, sizes[:4])) + (", ..." if replicas > 4 else "")
    return f"{shown} examples"


def _batch_not_divisible(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    distribute = _distribute(subject)
    replicas = distribute.replicas if distribute is not None else None
    if replicas is None:
        return
    batch = subject.spec.training.batch_size
    if batch % replicas == 0:
        return
    below, above = batch - batch % replicas, batch - batch % replicas + replicas
    path = ("training", "batch_size")
    written = _written(subject, path)
    size = f"batch_size {batch}" if written else f"the default batch_size {batch}"
    choices = f"{below} or {above}" if below > 0 else str(above)
    yield Finding(
        path if written else (*_DISTRIBUTE, "devices"),
        f"{size} is the global batch, split across the {replicas} devices of training.distribute, and {replicas} "
        f"does not divide it: the replicas get {_shares(batch, replicas)}, so the examples of the smaller shares "
        f"weigh more in each step and the run does not follow the single-device one",
        hint=f"use a multiple of {replicas}: `batch_size: {choices}`",
    )


_BODY = "  - {type: dense, units: 64, activation: relu}\n  - {type: dense, units: 10, activation: softmax}\n"
_TRAINING = "training:\n  optimizer: adam\n  loss: categorical_crossentropy\n"
_TWO_CPUS = "  distribute: {strategy: mirrored, devices: [/cpu:0, /cpu:1]}\n"

MS309 = Rule(
    code="MS309",
    name="batch-not-divisible",
    level=Level.INFO,  # neither a measured degradation nor a refusal (docs/calibration.md)
    summary="the global batch size is not a multiple of the number of replicas",
    check=_batch_not_divisible,
    docs=Docs(
        what="Flags a `training.batch_size` that the number of replicas of `training.distribute` does not "
        "divide. The count is known before the run only from a `mirrored` device list; with every GPU of the "
        "machine, or a `multi_worker_mirrored` cluster (TF_CONFIG), it is known only once the run starts: lint "
        "says nothing (it never reads the machine or the environment, so the same spec gives the same findings "
        "everywhere), and `modelspec train` prints the same warning when it finds the count.",
        why="`batch_size` is the global batch: every step splits it across the replicas, each replica takes the "
        "mean loss over its own share, and the replicas' gradients are averaged (Keras scales each replica's "
        "loss by 1 / replicas). When the split is uneven (10 over 3 replicas: 4, 3 and 3), an example in a "
        "smaller share weighs more than one in a larger share, so the step is not the mean over the batch and "
        "the run drifts from the single-device one that the spec describes. Training still runs and the "
        "drift was not measured, hence info. (The last, partial batch of an epoch is split unevenly too unless the "
        "number of examples "
        "divides; that one step per epoch is unavoidable.)",
        example=spec(_BODY, extra=_TRAINING + "  batch_size: 25\n" + _TWO_CPUS),
        use_instead=spec(_BODY, extra=_TRAINING + "  batch_size: 24\n" + _TWO_CPUS),
        known_problems="Info since calibration (docs/calibration.md, MS309's row): neither a refusal nor a measured "
        "degradation; training runs (tests/test_distribute.py shows a 15-example batch over 2 replicas train) "
        "and the drift of the unevenly weighted step was not measured. `modelspec train` still prints its "
        "warning when it finds the count.",
        references=f"{TF_INPUT}\n{DISTRIBUTED_DOC}",
    ),
)


# --- MS310 ---------------------------------------------------------------------------------------------------


def _replicas_for_scaling(distribute: Distribute) -> Optional[tuple[int, str]]:
    """(replicas, how they are counted) when the spec says there are several; None when it does not say."""
    if distribute.replicas is not None:
        return distribute.replicas, f"{distribute.replicas} devices"
    if distribute.strategy == MULTI_WORKER_MIRRORED:
        return 2, "at least 2 workers"  # a cluster of one worker is a test run, not a deployment
    return None


def _own_peak(training: Training) -> bool:
    """A schedule that sets its own rates: piecewise values, or a warm-up to a target (the scaling recipe)."""
    schedule = training.learning_rate_schedule
    return schedule is not None and (
        schedule.type == "piecewise_constant" or getattr(schedule, "warmup_target", None) is not None
    )


def _scaling_hint(optimizer, rate: float, replicas: int, counted: str) -> str:
    scaled = rate * replicas
    hint = (
        f"linear scaling: with {replicas}× the batch use {replicas}× the rate, `learning_rate: {scaled:g}`, or "
        f"keep {rate:g} as the start of a warm-up to it: `learning_rate_schedule: {{type: cosine_decay, "
        f"decay_steps: ..., warmup_steps: ..., warmup_target: {scaled:g}}}`"
    )
    if counted.startswith("at least"):
        hint += "; multiply by the number of replicas of the cluster (workers × devices each)"
    if optimizer.type != "sgd":
        gentler = rate * math.sqrt(replicas)
        hint += f"; adaptive optimizers such as {optimizer.type} often do better with √{replicas}×: {gentler:.2g}"
    return hint


def _learning_rate_not_scaled(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    distribute = _distribute(subject)
    if distribute is None:
        return
    training = subject.spec.training
    optimizer = training.optimizer
    counted = _replicas_for_scaling(distribute)
    if counted is None or optimizer.learning_rate != optimizer.START_LEARNING_RATE or _own_peak(training):
        return
    replicas, how = counted
    if replicas < 2 or training.batch_size < replicas * SINGLE_DEVICE_BATCH:
        return
    share = f"{'up to ' if how.startswith('at least') else ''}{training.batch_size // replicas}"
    rate_path = ("training", "optimizer", "learning_rate")
    path = rate_path if _written(subject, rate_path) else ("training", "optimizer")
    yield Finding(
        path,
        f"{optimizer.type}'s learning rate is {optimizer.learning_rate:g}, its usual single-device starting "
        f"rate, but the global batch of {training.batch_size} is split across {how} ({share} examples "
        f"each): each step averages {replicas}× more examples than one device "
        f"would and still takes a single-device step, so the run needs more epochs to get as far",
        hint=_scaling_hint(optimizer, optimizer.learning_rate, replicas, how),
    )


MS310 = Rule(
    code="MS310",
    name="learning-rate-not-scaled",
    level=Level.INFO,
    summary="the learning rate is left at its single-device value while the global batch grew with the replicas",
    check=_learning_rate_not_scaled,
    docs=Docs(
        what="Flags a distributed spec whose optimizer keeps its usual single-device starting rate (the Keras "
        "default: 0.01 for sgd and adagrad, 0.001 for adam, adamw, nadam and rmsprop; whether written or left "
        "out) while each replica gets at least the default batch of 32 examples, so that the global batch is "
        "several times what one device trains with. The replicas are a `mirrored` device list, or at least 2 "
        "for `multi_worker_mirrored` (a cluster); with `mirrored` on every local GPU lint does not know how "
        "many there are and says nothing. Not flagged: any other rate (chosen on purpose), a `piecewise_constant` "
        "schedule, or a `cosine_decay` warm-up from the rate to a `warmup_target` (the scaling recipe itself).",
        why="Spreading training over k replicas usually keeps each device's batch and so multiplies the global "
        "batch by k. Each step then averages k times more examples: the gradient is less noisy but the step is "
        "no longer, so after an epoch the model has taken k times fewer steps of the same size and is behind "
        "the single-device run. The linear scaling rule (Goyal et al. 2017) multiplies the rate by k, reached "
        "through a few epochs of warm-up; adaptive optimizers are often scaled more gently (square root). This "
        "is a hint, not a fault: modelspec cannot know which batch the rate was tuned for, so it takes the "
        "optimizer's starting rate as the sign that it was never retuned.",
        example=spec(
            _BODY,
            extra="training:\n  optimizer: {type: sgd, learning_rate: 0.01, momentum: 0.9}\n"
            "  loss: categorical_crossentropy\n  batch_size: 128\n"
            "  distribute: {strategy: mirrored, devices: [/gpu:0, /gpu:1, /gpu:2, /gpu:3]}\n",
        ),
        use_instead=spec(
            _BODY,
            extra="training:\n  optimizer: {type: sgd, learning_rate: 0.01, momentum: 0.9}\n"
            "  learning_rate_schedule: {type: cosine_decay, decay_steps: 5000, warmup_steps: 500, "
            "warmup_target: 0.04}\n  loss: categorical_crossentropy\n  batch_size: 128\n"
            "  distribute: {strategy: mirrored, devices: [/gpu:0, /gpu:1, /gpu:2, /gpu:3]}\n",
        ),
        references=f"{doc_parts.GOYAL_2017}\n{DISTRIBUTED_DOC}",
    ),
)


# --- MS311 ---------------------------------------------------------------------------------------------------


def _distribute_outside_training(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    if subject.spec.distribute is None:
        return
    if subject.spec.training is None:
        yield Finding(
            ("distribute",),
            "`distribute` on a spec without a `training:` block: nothing here trains, so nothing is distributed "
            "(`modelspec build` never distributes, and train and evaluate need an optimizer and a loss)",
            hint="add a `training:` block (optimizer, loss) and move `distribute:` under it, or remove it",
        )
        return
    yield Finding(
        ("distribute",),
        "`distribute` sits at the top level, where modelspec does not read it: the strategy belongs under "
        "`training:`, so `modelspec train` would train on one device",
        hint="move `distribute:` under `training:` (indented, beside optimizer and loss)",
    )


MS311 = Rule(
    code="MS311",
    name="distribute-outside-training",
    level=Level.ERROR,
    summary="a `distribute` block outside `training:`, or on a spec without training",
    check=_distribute_outside_training,
    docs=Docs(
        what="Flags a `distribute:` block at the top level of a spec: on a spec without a `training:` block, "
        "or beside one. modelspec reads the strategy from `training.distribute` only: it is a setting of "
        "training, as batch_size is, and only `modelspec train` and `evaluate` use it. A `training:` block that "
        "holds `distribute` but no optimizer or loss is not this rule's: it is a spec error (MS001, missing "
        "field), since nothing can train without them.",
        why="Distribution is how a training run uses several devices; a spec without `training:` is built, "
        "not trained (`modelspec build` makes the same model on any machine), so a strategy there is a "
        "mistake: the author meant to train it distributed and is missing the training block, or wrote "
        "the block one level too high. The schema accepts the top-level block only so that this rule can "
        "point at it and say where it goes; left there, `modelspec train` would silently train on one "
        "device. Hence an error, which stops `train` before TensorFlow starts.",
        example=spec(_BODY, extra="distribute: mirrored\n"),
        use_instead=spec(_BODY, extra=_TRAINING + "  distribute: mirrored\n"),
        known_problems="Calibration: docs/calibration.md, MS311's row: `modelspec train` refuses the spec before "
        "anything "
        "runs (tests/test_distribute_spec.py::test_a_top_level_block_stops_train_before_anything_runs).",
        references=f"{DISTRIBUTED_DOC}\n{TF_DISTRIBUTED}",
    ),
)
