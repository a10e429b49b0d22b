"""Weight initializers, regularizers and constraints: one model per kind, each with its Keras class."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional, Union

from pydantic import Field, model_validator

from modelspec.schema.base import NonNegativeFloat, PositiveFloat, Seed, StrictModel, field_error, tagged_union

# Initializer families: what the linter, `auto` and the signal analysis reason about.
CONSTANT = "constant"
FIXED_SCALE = "fixed_scale"
HE = "he"
GLOROT = "glorot"
LECUN = "lecun"
ORTHOGONAL = "orthogonal"
IDENTITY = "identity"
VARIANCE_SCALING = "variance_scaling"
AUTO = "auto"


class InitializerBase(StrictModel):
    """What every initializer states as class attributes: its Keras class, its family, whether it takes a seed."""

    KERAS_CLASS: ClassVar[str]
    FAMILY: ClassVar[str]
    SEEDED: ClassVar[bool] = False


class _Seeded(InitializerBase):
    SEEDED: ClassVar[bool] = True
    seed: Optional[Seed] = Field(
        None,
        description="Explicit seed. Leave unset: modelspec derives a distinct seed per variable from the model seed.",
    )


class Auto(InitializerBase):
    """Chosen per layer from the activation it feeds (see the README)."""

    KERAS_CLASS: ClassVar[str] = ""
    FAMILY: ClassVar[str] = AUTO
    type: Literal["auto"] = Field(description="Pick He, Glorot, LeCun or orthogonal from the activation.")


class Zeros(InitializerBase):
    KERAS_CLASS: ClassVar[str] = "Zeros"
    FAMILY: ClassVar[str] = CONSTANT
    type: Literal["zeros"] = Field(description="All zeros.")


class Ones(InitializerBase):
    KERAS_CLASS: ClassVar[str] = "Ones"
    FAMILY: ClassVar[str] = CONSTANT
    type: Literal["ones"] = Field(description="All ones.")


class Constant(InitializerBase):
    KERAS_CLASS: ClassVar[str] = "Constant"
    FAMILY: ClassVar[str] = CONSTANT
    type: Literal["constant"] = Field(description="Every element set to `value`.")
    value: float = Field(0.0, description="The value of every element.")


class RandomNormal(_Seeded):
    KERAS_CLASS: ClassVar[str] = "RandomNormal"
    FAMILY: ClassVar[str] = FIXED_SCALE
    type: Literal["random_normal"] = Field(description="Normal distribution with a fixed mean and stddev.")
    mean: float = Field(0.0, description="Mean of the distribution.")
    stddev: PositiveFloat = Field(0.05, description="Standard deviation of the distribution.")


class TruncatedNormal(_Seeded):
    KERAS_CLASS: ClassVar[str] = "TruncatedNormal"
    FAMILY: ClassVar[str] = FIXED_SCALE
    type: Literal["truncated_normal"] = Field(description="Normal distribution cut at two standard deviations.")
    mean: float = Field(0.0, description="Mean of the distribution before truncation.")
    stddev: PositiveFloat = Field(0.05, description="Standard deviation before truncation.")


class RandomUniform(_Seeded):
    KERAS_CLASS: ClassVar[str] = "RandomUniform"
    FAMILY: ClassVar[str] = FIXED_SCALE
    type: Literal["random_uniform"] = Field(description="Uniform distribution on [minval, maxval).")
    minval: float = Field(-0.05, description="Lower bound.")
    maxval: float = Field(0.05, description="Upper bound; must exceed minval.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.maxval <= self.minval:
            raise field_error(
                "maxval", f"maxval must be greater than minval (received: minval={self.minval}, maxval={self.maxval})"
            )
        return self


def _scaled(keras_class: str, family: str, name: str, scaling: tuple[float, str, str], text: str) -> type[_Seeded]:
    """Make one of the six fixed-scale variance-scaling initializers (He, Glorot, LeCun)."""
    annotations = {
        "type": Literal[name],
        "KERAS_CLASS": ClassVar[str],
        "FAMILY": ClassVar[str],
        "SCALING": ClassVar[tuple[float, str, str]],
    }
    namespace = {
        "__annotations__": annotations,
        "__doc__": text,
        "KERAS_CLASS": keras_class,
        "FAMILY": family,
        "SCALING": scaling,
        "type": Field(description=text),
        "__module__": __name__,
    }
    return type(keras_class, (_Seeded,), namespace)


# (scale, mode, distribution): each is Keras's VarianceScaling with these arguments.
GlorotUniform = _scaled(
    "GlorotUniform",
    GLOROT,
    "glorot_uniform",
    (1.0, "fan_avg", "uniform"),
    "Glorot (Xavier) uniform: variance 2/(fan_in+fan_out).",
)
GlorotNormal = _scaled(
    "GlorotNormal",
    GLOROT,
    "glorot_normal",
    (1.0, "fan_avg", "truncated_normal"),
    "Glorot (Xavier) truncated normal: variance 2/(fan_in+fan_out).",
)
HeUniform = _scaled(
    "HeUniform", HE, "he_uniform", (2.0, "fan_in", "uniform"), "He (Kaiming) uniform: variance 2/fan_in."
)
HeNormal = _scaled(
    "HeNormal",
    HE,
    "he_normal",
    (2.0, "fan_in", "truncated_normal"),
    "He (Kaiming) truncated normal: variance 2/fan_in.",
)
LecunUniform = _scaled(
    "LecunUniform", LECUN, "lecun_uniform", (1.0, "fan_in", "uniform"), "LeCun uniform: variance 1/fan_in."
)
LecunNormal = _scaled(
    "LecunNormal",
    LECUN,
    "lecun_normal",
    (1.0, "fan_in", "truncated_normal"),
    "LeCun truncated normal: variance 1/fan_in.",
)
SCALED_MODELS = (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal)


class Orthogonal(_Seeded):
    KERAS_CLASS: ClassVar[str] = "Orthogonal"
    FAMILY: ClassVar[str] = ORTHOGONAL
    type: Literal["orthogonal"] = Field(description="A random orthogonal matrix (Saxe et al. 2014).")
    gain: PositiveFloat = Field(1.0, description="Multiplier applied to the orthogonal matrix.")


class Identity(InitializerBase):
    KERAS_CLASS: ClassVar[str] = "Identity"
    FAMILY: ClassVar[str] = IDENTITY
    type: Literal["identity"] = Field(description="The identity matrix (2-D kernels only).")
    gain: PositiveFloat = Field(1.0, description="Multiplier applied to the identity matrix.")


class VarianceScaling(_Seeded):
    KERAS_CLASS: ClassVar[str] = "VarianceScaling"
    FAMILY: ClassVar[str] = VARIANCE_SCALING
    type: Literal["variance_scaling"] = Field(description="Variance scale/n, n chosen by `mode`.")
    scale: PositiveFloat = Field(1.0, description="Scaling factor of the variance.")
    mode: Literal["fan_in", "fan_out", "fan_avg"] = Field("fan_in", description="Which fan divides the scale.")
    distribution: Literal["truncated_normal", "untruncated_normal", "uniform"] = Field(
        "truncated_normal", description="The distribution samples are drawn from."
    )


def scaling(spec) -> Optional[tuple[float, str, str]]:
    """Return (scale, mode, distribution) for a variance-scaling initializer, named or explicit; else None."""
    if isinstance(spec, VarianceScaling):
        return spec.scale, spec.mode, spec.distribution
    return getattr(type(spec), "SCALING", None)


def family(spec) -> str:
    """Return the initializer's family; an explicit variance_scaling that equals He, Glorot or LeCun (same scale
    and mode, any distribution) belongs to that family, so every spelling of an initializer reads the same."""
    if isinstance(spec, VarianceScaling):
        for model in SCALED_MODELS:
            scale, mode, _ = model.SCALING
            if mode == spec.mode and abs(spec.scale - scale) <= 1e-6 * scale:
                return model.FAMILY
    return spec.FAMILY


INITIALIZER_MODELS = (
    Auto,
    Zeros,
    Ones,
    Constant,
    RandomNormal,
    TruncatedNormal,
    RandomUniform,
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    Orthogonal,
    Identity,
    VarianceScaling,
)
InitializerSpec = Union[INITIALIZER_MODELS]
Initializer = tagged_union(
    "Initializer",
    INITIALIZER_MODELS,
    "initializer",
    aliases={
        "uniform": "random_uniform",
        "normal": "random_normal",
        "xavier_uniform": "glorot_uniform",
        "xavier_normal": "glorot_normal",
        "kaiming_uniform": "he_uniform",
        "kaiming_normal": "he_normal",
        "zero": "zeros",
        "one": "ones",
        "identity_initializer": "identity",
    },
    description="An initializer name, or a mapping with `type:` and its parameters.",
)


# --- regularizers -----------------------------------------------------------------------------------------


class L1(StrictModel):
    KERAS_CLASS: ClassVar[str] = "L1"
    type: Literal["l1"] = Field(description="L1 penalty: l1 * sum(|w|).")
    l1: NonNegativeFloat = Field(0.01, description="Penalty factor.")


class L2(StrictModel):
    KERAS_CLASS: ClassVar[str] = "L2"
    type: Literal["l2"] = Field(description="L2 penalty: l2 * sum(w²).")
    l2: NonNegativeFloat = Field(0.01, description="Penalty factor.")


class L1L2(StrictModel):
    KERAS_CLASS: ClassVar[str] = "L1L2"
    type: Literal["l1_l2"] = Field(description="Both penalties.")
    l1: NonNegativeFloat = Field(0.0, description="L1 penalty factor.")
    l2: NonNegativeFloat = Field(0.0, description="L2 penalty factor.")


Regularizer = tagged_union(
    "Regularizer",
    (L1, L2, L1L2),
    "regularizer",
    aliases={"l1l2": "l1_l2"},
    description="A regularizer name (l1, l2, l1_l2) or a mapping with its factors.",
)


# --- constraints ------------------------------------------------------------------------------------------

Axis = Union[int, list[int]]


class MaxNorm(StrictModel):
    KERAS_CLASS: ClassVar[str] = "MaxNorm"
    type: Literal["max_norm"] = Field(description="Rescale weights whose norm exceeds max_value.")
    max_value: PositiveFloat = Field(2.0, description="Largest allowed norm.")
    axis: Axis = Field(0, description="Axis along which norms are computed.")


class NonNeg(StrictModel):
    KERAS_CLASS: ClassVar[str] = "NonNeg"
    type: Literal["non_neg"] = Field(description="Clip weights to be non-negative.")


class UnitNorm(StrictModel):
    KERAS_CLASS: ClassVar[str] = "UnitNorm"
    type: Literal["unit_norm"] = Field(description="Rescale weights to unit norm.")
    axis: Axis = Field(0, description="Axis along which norms are computed.")


class MinMaxNorm(StrictModel):
    KERAS_CLASS: ClassVar[str] = "MinMaxNorm"
    type: Literal["min_max_norm"] = Field(description="Keep norms within [min_value, max_value].")
    min_value: NonNegativeFloat = Field(0.0, description="Smallest allowed norm.")
    max_value: PositiveFloat = Field(1.0, description="Largest allowed norm.")
    rate: float = Field(1.0, ge=0, le=1, description="How fast norms are pulled into range (1 = at once).")
    axis: Axis = Field(0, description="Axis along which norms are computed.")


Constraint = tagged_union(
    "Constraint",
    (MaxNorm, NonNeg, UnitNorm, MinMaxNorm),
    "constraint",
    aliases={"nonneg": "non_neg", "maxnorm": "max_norm", "unitnorm": "unit_norm"},
    description="A constraint name or a mapping with its parameters.",
)
