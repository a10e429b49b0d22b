"""The `training:` block: optimizer, learning-rate schedule, loss, metrics."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Optional, Union

from pydantic import Field, GetJsonSchemaHandler, WithJsonSchema, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core.core_schema import CoreSchema

from modelspec.schema.base import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Rate,
    Spelled,
    StrictModel,
    canonical_name,
    field_error,
    names_schema,
    tagged_union,
)
from modelspec.schema.distribute import Distribute

Probability = Rate


class OptimizerBase(StrictModel):
    """Fields every optimizer has. Each optimizer states its facts as class attributes, with no default here:

    - ``USUAL_LEARNING_RATES``: (low, high), the learning rates it is usually trained with; outside them training
      diverges or barely moves (MS303).
    - ``START_LEARNING_RATE``: the rate to start tuning from, suggested when a rate is outside that range.
    """

    KERAS_CLASS: ClassVar[str]
    USUAL_LEARNING_RATES: ClassVar[tuple[float, float]]
    START_LEARNING_RATE: ClassVar[float]
    learning_rate: PositiveFloat = Field(0.001, description="Step size (the schedule's initial rate if one is set).")
    clipnorm: Optional[PositiveFloat] = Field(None, description="Clip each gradient to this norm.")
    clipvalue: Optional[PositiveFloat] = Field(None, description="Clip each gradient element to ±clipvalue.")
    global_clipnorm: Optional[PositiveFloat] = Field(None, description="Clip all gradients to this global norm.")


class SGD(OptimizerBase):
    KERAS_CLASS: ClassVar[str] = "SGD"
    USUAL_LEARNING_RATES: ClassVar[tuple[float, float]] = (1e-4, 1.0)
    START_LEARNING_RATE: ClassVar[float] = 1e-2
    type: Literal["sgd"] = Field(description="Stochastic gradient descent, optionally with momentum.")
    learning_rate: PositiveFloat = Field(0.01, description="Step size (the schedule's initial rate if one is set).")
    momentum: float = Field(0.0, ge=0, lt=1, description="Momentum factor.")
    nesterov: bool = Field(False, description="Use Nesterov momentum.")


class Adam(OptimizerBase):
    KERAS_CLASS: ClassVar[str] = "Adam"
    # Up to 0.03: measured by benchmarks/calibration.py (digits MLP: 0.03 trains as 1e-3 does, 0.1 ends 70% worse)
    USUAL_LEARNING_RATES: ClassVar[tuple[float, float]] = (1e-5, 3e-2)
    START_LEARNING_RATE: ClassVar[float] = 1e-3
    type: Literal["adam"] = Field(description="Adam (Kingma & Ba 2015).")
    beta_1: Probability = Field(0.9, description="Decay of the first-moment estimate.")
    beta_2: Probability = Field(0.999, description="Decay of the second-moment estimate.")
    epsilon: PositiveFloat = Field(1e-7, description="Numerical-stability constant.")
    amsgrad: bool = Field(False, description="Use the AMSGrad variant.")


class AdamW(Adam):
    KERAS_CLASS: ClassVar[str] = "AdamW"
    USUAL_LEARNING_RATES: ClassVar[tuple[float, float]] = (1e-5, 3e-2)  # Adam's step: as Adam's (calibration)
    START_LEARNING_RATE: ClassVar[float] = 1e-3
    type: Literal["adamw"] = Field(description="Adam with decoupled weight decay.")
    weight_decay: float = Field(0.004, ge=0, description="Decoupled weight decay factor.")


class RMSprop(OptimizerBase):
    KERAS_CLASS: ClassVar[str] = "RMSprop"
    USUAL_LEARNING_RATES: ClassVar[tuple[float, float]] = (1e-5, 1e-2)
    START_LEARNING_RATE: ClassVar[float] = 1e-3
    type: Literal["rmsprop"] = Field(
        description="RMSprop: each step divided by a running average of the gradient's magnitude."
    )
    rho: Probability = Field(0.9, description="Decay of the squared-gradient average.")
    momentum: float = Field(0.0, ge=0, lt=1, description="Momentum factor.")
    epsilon: PositiveFloat = Field(1e-7, description="Numerical-stability constant.")
    centered: bool = Field(False, description="Normalise by the gradient's variance estimate.")


class Adagrad(OptimizerBase):
    KERAS_CLASS: ClassVar[str] = "Adagrad"
    USUAL_LEARNING_RATES: ClassVar[tuple[float, float]] = (1e-4, 1.0)
    START_LEARNING_RATE: ClassVar[float] = 1e-2
    type: Literal["adagrad"] = Field(
        description="Adagrad: per-parameter rates that shrink as squared gradients add up."
    )
    initial_accumulator_value: float = Field(0.1, ge=0, description="Starting value of the accumulators.")
    epsilon: PositiveFloat = Field(1e-7, description="Numerical-stability constant.")


class Nadam(OptimizerBase):
    KERAS_CLASS: ClassVar[str] = "Nadam"
    USUAL_LEARNING_RATES: ClassVar[tuple[float, float]] = (1e-5, 1e-2)
    START_LEARNING_RATE: ClassVar[float] = 1e-3
    type: Literal["nadam"] = Field(description="Adam with Nesterov momentum.")
    beta_1: Probability = Field(0.9, description="Decay of the first-moment estimate.")
    beta_2: Probability = Field(0.999, description="Decay of the second-moment estimate.")
    epsilon: PositiveFloat = Field(1e-7, description="Numerical-stability constant.")


OPTIMIZER_MODELS = (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam)
Optimizer = tagged_union(
    "Optimizer", OPTIMIZER_MODELS, "optimizer", description="An optimizer name or a mapping with options."
)


class ExponentialDecay(StrictModel):
    KERAS_CLASS: ClassVar[str] = "ExponentialDecay"
    type: Literal["exponential_decay"] = Field(description="rate * decay_rate ** (step / decay_steps).")
    decay_steps: PositiveInt = Field(description="Steps per decay period.", examples=[1000])
    decay_rate: PositiveFloat = Field(description="Multiplier per period.", examples=[0.9])
    staircase: bool = Field(False, description="Decay in whole periods.")


class CosineDecay(StrictModel):
    KERAS_CLASS: ClassVar[str] = "CosineDecay"
    type: Literal["cosine_decay"] = Field(description="Cosine decay from the optimizer's rate, after warm-up.")
    decay_steps: PositiveInt = Field(description="Steps to decay over.", examples=[1000])
    alpha: float = Field(0.0, ge=0, le=1, description="Final rate as a fraction of the initial rate.")
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up steps before decaying.")
    warmup_target: Optional[PositiveFloat] = Field(None, description="Rate reached at the end of warm-up.")


class PiecewiseConstant(StrictModel):
    KERAS_CLASS: ClassVar[str] = "PiecewiseConstantDecay"
    type: Literal["piecewise_constant"] = Field(description="Fixed rates between step boundaries.")
    boundaries: list[PositiveInt] = Field(min_length=1, description="Increasing step numbers.", examples=[[1000]])
    values: list[PositiveFloat] = Field(
        min_length=2, description="One more rate than boundaries.", examples=[[0.01, 0.001]]
    )

    @model_validator(mode="after")
    def _lengths(self):
        if len(self.values) != len(self.boundaries) + 1:
            raise field_error(
                "values",
                f"values needs len(boundaries) + 1 = {len(self.boundaries) + 1} entries (received: {len(self.values)})",
            )
        if any(later <= earlier for earlier, later in zip(self.boundaries, self.boundaries[1:])):
            raise field_error("boundaries", f"boundaries must increase (received: {self.boundaries})")
        return self


Schedule = tagged_union(
    "Schedule",
    (ExponentialDecay, CosineDecay, PiecewiseConstant),
    "learning-rate schedule",
    aliases={"piecewise_constant_decay": "piecewise_constant"},  # Keras's class name
    description="A learning-rate schedule mapping with `type:`.",
)

# What a loss scores, which decides the output activation it fits (MS301) and the output width it needs (MS302).
CATEGORICAL = "categorical"  # one class among several: a softmax distribution, or logits
BINARY = "binary"  # independent yes/no probabilities: sigmoid units, or logits
REGRESSION = "regression"  # real values: a linear output
OTHER = "other"  # hinge, divergence, count and similarity losses: no rule about their output
LOSS_KINDS = (CATEGORICAL, BINARY, REGRESSION, OTHER)


class LossFacts(NamedTuple):
    """What modelspec knows about one Keras loss."""

    keras_class: str
    options: frozenset[str]  # the options it accepts, of from_logits, label_smoothing and delta
    kind: str  # one of LOSS_KINDS


_CROSSENTROPY = frozenset({"from_logits", "label_smoothing"})
LOSSES: dict[str, LossFacts] = {
    "mean_squared_error": LossFacts("MeanSquaredError", frozenset(), REGRESSION),
    "mean_absolute_error": LossFacts("MeanAbsoluteError", frozenset(), REGRESSION),
    "mean_absolute_percentage_error": LossFacts("MeanAbsolutePercentageError", frozenset(), REGRESSION),
    "mean_squared_logarithmic_error": LossFacts("MeanSquaredLogarithmicError", frozenset(), REGRESSION),
    "binary_crossentropy": LossFacts("BinaryCrossentropy", _CROSSENTROPY, BINARY),
    "binary_focal_crossentropy": LossFacts("BinaryFocalCrossentropy", _CROSSENTROPY, BINARY),
    "categorical_crossentropy": LossFacts("CategoricalCrossentropy", _CROSSENTROPY, CATEGORICAL),
    "sparse_categorical_crossentropy": LossFacts(
        "SparseCategoricalCrossentropy", frozenset({"from_logits"}), CATEGORICAL
    ),
    "categorical_focal_crossentropy": LossFacts("CategoricalFocalCrossentropy", _CROSSENTROPY, CATEGORICAL),
    "huber": LossFacts("Huber", frozenset({"delta"}), REGRESSION),
    "log_cosh": LossFacts("LogCosh", frozenset(), REGRESSION),
    "hinge": LossFacts("Hinge", frozenset(), OTHER),
    "squared_hinge": LossFacts("SquaredHinge", frozenset(), OTHER),
    "categorical_hinge": LossFacts("CategoricalHinge", frozenset(), OTHER),
    "kl_divergence": LossFacts("KLDivergence", frozenset(), OTHER),
    "poisson": LossFacts("Poisson", frozenset(), OTHER),
    "cosine_similarity": LossFacts("CosineSimilarity", frozenset(), OTHER),
}
LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "logcosh": "log_cosh",
    "huber_loss": "huber",
}


class Loss(StrictModel):
    """A Keras loss with its options."""

    type: Annotated[str, WithJsonSchema(names_schema(LOSSES, LOSS_ALIASES, "loss"))] = Field(
        description="Keras loss name."
    )
    from_logits: Optional[bool] = Field(None, description="The output is raw scores, not probabilities.")
    label_smoothing: Optional[float] = Field(None, ge=0, le=1, description="Label smoothing factor.")
    delta: Optional[PositiveFloat] = Field(None, description="Huber's switch point.")

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """A loss name alone stands for ``{type: name}`` (see `_shorthand`): say so in the JSON Schema."""
        return {
            "anyOf": [*names_schema(LOSSES, LOSS_ALIASES, "loss")["anyOf"], handler(schema)],
            "description": "A Keras loss name, or a mapping with `type:` and its options.",
        }

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        if isinstance(value, str):
            value = {"type": value}
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            value = {**value, "type": canonical_name(value["type"], LOSSES, LOSS_ALIASES, "loss")}
        return value

    @model_validator(mode="after")
    def _options(self):
        allowed = LOSSES[self.type].options
        for option in ("from_logits", "label_smoothing", "delta"):
            if getattr(self, option) is not None and option not in allowed:
                raise field_error(option, f"{self.type} does not take {option}")
        return self

    @property
    def kind(self) -> str:
        """What the loss scores: categorical, binary, regression or other (see LOSS_KINDS)."""
        return LOSSES[self.type].kind

    @property
    def keras_class(self) -> str:
        """The ``keras.losses`` class that computes it."""
        return LOSSES[self.type].keras_class

    def options(self) -> dict:
        """Return the options that were set."""
        return {k: v for k, v in self.model_dump(exclude={"type"}).items() if v is not None}


METRICS = (
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "precision",
    "recall",
    "mean_squared_error",
    "mean_absolute_error",
    "root_mean_squared_error",
    "mean_absolute_percentage_error",
    "categorical_crossentropy",
    "binary_crossentropy",
    "sparse_categorical_crossentropy",
)
METRIC_ALIASES = {
    "acc": "accuracy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "rmse": "root_mean_squared_error",
    "mape": "mean_absolute_percentage_error",
}
# The aliases Keras itself accepts as metric strings. Keras 3 logs a metric under the string compile was given
# (metrics=['acc'] logs acc and val_acc), so these are kept as written: the user's monitor `val_acc` then names what
# the run logs. Every other spelling (Accuracy, rmse, mean-squared-error) becomes the canonical name, which is then
# both what Keras is compiled with and what it logs.
KERAS_METRIC_ALIASES = frozenset({"acc", "mse", "mae", "mape"})


class MetricSpelled(Spelled):
    """`Spelled` for metrics: a Keras alias stays as written (see KERAS_METRIC_ALIASES)."""

    def canonical(self, value: Any) -> Any:
        return value if isinstance(value, str) and value in KERAS_METRIC_ALIASES else super().canonical(value)


def canonical_metric(name: str) -> str:
    """The canonical name of a metric as training.metrics holds it (`acc` -> `accuracy`)."""
    return METRIC_ALIASES.get(name, name)


MetricName = Annotated[
    str,
    MetricSpelled(METRICS, METRIC_ALIASES, "metric"),
    Field(description="A Keras metric name (Keras logs it under the name written here)."),
]
# The metrics that grow as the model gets better; every other logged quantity (losses, errors) shrinks.
HIGHER_IS_BETTER = ("accuracy", "acc", "auc", "precision", "recall")


def monitor_mode(quantity: str) -> str:
    """`max` for a quantity that grows as the model improves (val_accuracy, out_auc), else `min` (losses, errors)."""
    return "max" if quantity.endswith(HIGHER_IS_BETTER) else "min"


def logged_quantities(training: Training, outputs: list[str]) -> list[str]:
    """Return the names Keras logs on the training data (each is logged again with `val_` on validation data)."""
    metrics = list(dict.fromkeys(training.metrics))
    if len(outputs) == 1:
        return ["loss", *metrics]
    return ["loss", *(f"{output}_{name}" for output in outputs for name in ("loss", *metrics))]


ClassIndex = Annotated[str, Field(pattern=r"^[0-9]{1,6}$", description="A class index, as a quoted number.")]

Monitor = Annotated[
    str,
    Field(
        pattern=r"^(val_)?[A-Za-z][A-Za-z0-9_-]{0,159}$",
        description="A quantity training logs: loss, or a metric's name, with val_ for the validation data "
        "(val_loss, val_accuracy); with several outputs, <output>_loss and <output>_<metric>.",
    ),
]


class EarlyStopping(StrictModel):
    """Stop training when the monitored quantity stops improving (keras.callbacks.EarlyStopping)."""

    monitor: Monitor = Field("val_loss", description="The quantity to watch (default: val_loss).")
    patience: NonNegativeInt = Field(5, description="Epochs without improvement before training stops.")
    min_delta: NonNegativeFloat = Field(0.0, description="The smallest change that counts as an improvement.")
    restore_best_weights: bool = Field(True, description="End with the weights of the best epoch, not the last.")


class ReduceLROnPlateau(StrictModel):
    """Lower the learning rate when the monitored quantity stops improving (keras.callbacks.ReduceLROnPlateau)."""

    monitor: Monitor = Field("val_loss", description="The quantity to watch (default: val_loss).")
    factor: float = Field(0.1, gt=0, lt=1, description="Multiplier applied to the learning rate at a plateau.")
    patience: NonNegativeInt = Field(3, description="Epochs without improvement before the rate is lowered.")
    min_lr: NonNegativeFloat = Field(0.0, description="The learning rate never goes below this.")


class Training(StrictModel):
    """How the model is compiled and trained: optimizer, loss and metrics, then batches, epochs and callbacks."""

    optimizer: Optimizer = Field(
        description="The optimizer: a name such as adam, or a mapping with `type:` and its options.", examples=["adam"]
    )
    learning_rate_schedule: Optional[Schedule] = Field(None, description="Optional learning-rate schedule.")
    loss: Union[Loss, list[Loss]] = Field(
        description="The loss, or one loss per output.", examples=["categorical_crossentropy"]
    )
    metrics: list[MetricName] = Field(default_factory=list, description="Keras metric names.")
    batch_size: PositiveInt = Field(32, description="Examples per training step.")
    epochs: PositiveInt = Field(1, description="Passes over the training data.")
    validation_split: Optional[float] = Field(
        None,
        gt=0,
        lt=1,
        description="Fraction of the training data held out to validate on after each epoch (the last rows, as "
        "Keras takes them); `modelspec train --validation-data` replaces it.",
    )
    shuffle: bool = Field(True, description="Shuffle the training data before each epoch (seeded: reproducible).")
    early_stopping: Optional[EarlyStopping] = Field(None, description="Stop when the monitored quantity stalls.")
    reduce_lr_on_plateau: Optional[ReduceLROnPlateau] = Field(
        None, description="Lower the learning rate when the monitored quantity stalls."
    )
    class_weight: Optional[Union[Literal["balanced"], dict[Union[ClassIndex, NonNegativeInt], PositiveFloat]]] = Field(
        None,
        description="Weight of each class's examples in the loss: {'class index': weight} (keys quoted, as YAML "
        "mapping keys are strings: {'0': 1.0, '1': 5.0}), or balanced (inversely proportional to each class's "
        "frequency in the training data). Classes not listed weigh 1.",
    )

    distribute: Optional[Distribute] = Field(
        None,
        description="Train with a tf.distribute strategy: `mirrored` (the devices of this machine) or "
        "`multi_worker_mirrored` (a TF_CONFIG cluster), or a mapping with `strategy:` and its options; "
        "`batch_size` is then the global batch, split across the replicas (docs/distributed.md).",
    )

    def output_losses(self, outputs: int) -> list[Loss]:
        """The loss of each of ``outputs`` outputs, in order: the list as written (the analysis checks that it has
        one per output), or the one loss for every output."""
        return list(self.loss) if isinstance(self.loss, list) else [self.loss] * outputs

    def loss_path(self, index: int) -> tuple:
        """Where the loss of output ``index`` is written: `training.loss`, or its entry in the list."""
        return ("training", "loss", index) if isinstance(self.loss, list) else ("training", "loss")

    @field_validator("class_weight")
    @classmethod
    def _class_indices(cls, value):
        return {int(index): weight for index, weight in value.items()} if isinstance(value, dict) else value
