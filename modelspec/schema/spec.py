"""The top-level spec model (format version 1)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, model_validator

from modelspec.schema.activations import ActivationName
from modelspec.schema.base import SEED_LIMIT, Name, PositiveInt, StrictModel, field_error
from modelspec.schema.distribute import Distribute
from modelspec.schema.initializers import Constraint, Initializer, Regularizer
from modelspec.schema.layers import Layer
from modelspec.schema.pretrained import Pretrained
from modelspec.schema.training import Training

DTYPES = ("float32", "float16", "bfloat16", "float64", "int32", "int64", "uint8", "bool")
# The formats `modelspec export` writes (docs/export.md); `lint.export` turns on their readiness rules (MS5xx).
EXPORT_FORMATS = ("saved_model", "onnx", "litert")


class Input(StrictModel):
    """One model input."""

    name: Optional[Name] = Field(None, description="Input name; default `input` (or `input_n` for several).")
    shape: list[Optional[PositiveInt]] = Field(
        min_length=1,
        max_length=8,
        description="Shape without the batch axis; null for a variable length.",
        examples=[[28, 28, 1]],
    )
    dtype: Literal[DTYPES] = Field("float32", description="Element type; int32 for token ids.")


class Defaults(StrictModel):
    """Field values applied to every layer that has the field and does not set it."""

    activation: Optional[ActivationName] = Field(None, description="Default activation.")
    use_bias: Optional[bool] = Field(None, description="Default use_bias.")
    kernel_initializer: Optional[Initializer] = Field(None, description="Default kernel initializer.")
    bias_initializer: Optional[Initializer] = Field(None, description="Default bias initializer.")
    recurrent_initializer: Optional[Initializer] = Field(None, description="Default recurrent initializer.")
    depthwise_initializer: Optional[Initializer] = Field(None, description="Default depthwise initializer.")
    pointwise_initializer: Optional[Initializer] = Field(None, description="Default pointwise initializer.")
    embeddings_initializer: Optional[Initializer] = Field(None, description="Default embeddings initializer.")
    kernel_regularizer: Optional[Regularizer] = Field(None, description="Default kernel regularizer.")
    bias_regularizer: Optional[Regularizer] = Field(None, description="Default bias regularizer.")
    recurrent_regularizer: Optional[Regularizer] = Field(None, description="Default recurrent regularizer.")
    kernel_constraint: Optional[Constraint] = Field(None, description="Default kernel constraint.")
    bias_constraint: Optional[Constraint] = Field(None, description="Default bias constraint.")
    padding: Optional[Literal["valid", "same"]] = Field(None, description="Default padding of convolutions/pools.")


ColumnName = Annotated[str, Field(min_length=1, max_length=128, description="A column name of a CSV header.")]


class DataSettings(StrictModel):
    """How a CSV file's columns map onto the model's input and outputs (`modelspec train --data file.csv`)."""

    target: Optional[Union[ColumnName, list[ColumnName]]] = Field(
        None, description="The column holding the labels, or one column per output (default: the last column)."
    )
    features: Optional[list[ColumnName]] = Field(
        None, min_length=1, description="The input's columns, in order (default: every column but the targets)."
    )


ModelName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$",
        description="A model name: a letter, then up to 63 letters, digits, '_', '.' or '-' (mobilenetv2_1.00_224).",
    ),
]


class LintSettings(StrictModel):
    """Per-spec lint settings."""

    ignore: list[str] = Field(default_factory=list, description="Rule codes to ignore in this spec.")
    export: list[Literal[EXPORT_FORMATS]] = Field(
        default_factory=list,
        description="Export formats this spec must be ready for: turns on their readiness rules (MS5xx), as "
        "`modelspec lint --export FORMAT` does.",
    )


class Spec(StrictModel):
    """A model spec, format version 1."""

    modelspec: Literal[1] = Field(description="Spec format version.")
    name: ModelName = Field("model", description="Model name; also the default output file name.")
    seed: Optional[int] = Field(
        None, ge=0, lt=SEED_LIMIT, description="Model seed: every initializer gets its own seed derived from it."
    )
    input: Optional[Input] = Field(None, description="The single input (or use `inputs`).")
    inputs: Optional[list[Input]] = Field(None, min_length=1, description="Several inputs.")
    defaults: Defaults = Field(default_factory=Defaults, description="Defaults for every layer.")
    layers: list[Layer] = Field(
        min_length=1, description="The layers, in order; each takes the previous one's output unless it names `inputs`."
    )
    outputs: Optional[list[Name]] = Field(None, min_length=1, description="Output layers (default: the last).")
    pretrained: Optional[Pretrained] = Field(None, description="Pretrained weights to load.")
    training: Optional[Training] = Field(None, description="Compile and training settings.")
    distribute: Optional[Distribute] = Field(
        None,
        description="Misplaced: modelspec reads the distribution strategy from `training.distribute` only; "
        "here the lint rule MS311 reports it.",
    )
    data: Optional[DataSettings] = Field(None, description="Which CSV columns are the input and the targets.")
    lint: LintSettings = Field(default_factory=LintSettings, description="Lint settings for this spec.")

    @model_validator(mode="after")
    def _one_input_form(self):
        if self.input is not None and self.inputs is not None:
            raise field_error("inputs", "give exactly one of `input` (one input) or `inputs` (a list), not both")
        if self.input is None and self.inputs is None:
            raise ValueError("missing required field 'input' (or 'inputs' for several inputs)")
        return self

    def model_inputs(self) -> list[Input]:
        """Return the inputs as a list, whichever form the spec used."""
        return [self.input] if self.input is not None else list(self.inputs)


def with_defaults(spec: Spec) -> Spec:
    """Return ``spec`` with `defaults:` applied to every layer field that the layer did not set itself."""
    values = {key: value for key, value in spec.defaults if value is not None}
    if not values:
        return spec
    return spec.model_copy(update={"layers": [_apply(layer, values) for layer in spec.layers]})


def _apply(layer, values: dict):
    update = {
        key: value
        for key, value in values.items()
        if key in type(layer).model_fields and key not in layer.model_fields_set
    }
    if layer.type == "zero_padding2d":
        update.pop("padding", None)  # same name, different meaning: an amount, not valid/same
    if layer.type == "bidirectional":
        update = {"layer": _apply(layer.layer, values)}
    return layer.model_copy(update=update) if update else layer
