"""The `training.distribute:` block: which `tf.distribute` strategy trains the model, and on which devices.

Pure Python: the runtime (modelspec/runtime/distribute.py) turns it into a TensorFlow strategy. The facts about
each strategy live here, in one place: its name and aliases, whether it takes a device list, and how many
replicas a spec fixes statically (the lint rules MS309 and MS310 use that count).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, GetJsonSchemaHandler, WithJsonSchema, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import CoreSchema

from modelspec.diagnostics import did_you_mean
from modelspec.errors import SettingsError
from modelspec.schema.base import Spelled, StrictModel, canonical_name, field_error, names_schema

MIRRORED = "mirrored"  # tf.distribute.MirroredStrategy: the devices of one machine, in sync
MULTI_WORKER_MIRRORED = "multi_worker_mirrored"  # tf.distribute.MultiWorkerMirroredStrategy: a TF_CONFIG cluster
STRATEGIES = (MIRRORED, MULTI_WORKER_MIRRORED)
STRATEGY_ALIASES = {  # TensorFlow's class names, snake_cased
    "mirrored_strategy": MIRRORED,
    "multi_worker_mirrored_strategy": MULTI_WORKER_MIRRORED,
}
NONE = "none"  # `--distribute none`: train without a strategy, whatever the spec says

StrategyName = Annotated[
    Literal["mirrored", "multi_worker_mirrored"],
    Spelled(STRATEGIES, STRATEGY_ALIASES, "distribution strategy"),
    Field(
        description="mirrored: the devices of one machine (tf.distribute.MirroredStrategy); "
        "multi_worker_mirrored: the machines of a cluster that the TF_CONFIG environment variable describes "
        "(tf.distribute.MultiWorkerMirroredStrategy). Both keep one copy of the weights per device in sync."
    ),
]
# "/cpu:0", "/gpu:1", "/device:GPU:0", "GPU:0": what MirroredStrategy accepts for a device of this machine.
_DEVICE = re.compile(r"^/?(?:device:)?(cpu|gpu):([0-9]{1,4})$", re.IGNORECASE)
_DEVICE_SCHEMA = {
    "type": "string",
    "pattern": r"^/?([dD][eE][vV][iI][cC][eE]:)?([cC][pP][uU]|[gG][pP][uU]):[0-9]{1,4}$",
    "description": "A device of this machine: /cpu:0, /gpu:1 (or /device:GPU:1).",
}


def _device(value: str) -> str:
    if not _DEVICE.match(value):
        raise PydanticCustomError(
            "unknown_name",
            "must be a device of this machine, /cpu:N or /gpu:N such as /cpu:0 or /gpu:1 (received: {value})",
            {"value": repr(value)},
        )
    return value


Device = Annotated[str, AfterValidator(_device), WithJsonSchema(_DEVICE_SCHEMA)]


def device_key(device: str) -> str:
    """Return the canonical form of a device string (``/device:GPU:0`` for ``/gpu:0``), to compare devices."""
    match = _DEVICE.match(device)
    return f"/device:{match.group(1).upper()}:{int(match.group(2))}" if match else device


class Distribute(StrictModel):
    """Train with a `tf.distribute` strategy: one replica of the model per device, gradients summed across them.

    `training.batch_size` stays the global batch: each step splits it across the replicas.
    """

    strategy: StrategyName
    devices: Optional[list[Device]] = Field(
        None,
        min_length=1,
        description="mirrored only: the devices to train on, e.g. [/gpu:0, /gpu:1], or [/cpu:0, /cpu:1] (CPU "
        "devices beyond the first are logical devices that modelspec creates). Default: every GPU of the "
        "machine, else the CPU.",
    )
    communication: Literal["auto", "ring", "nccl"] = Field(
        "auto",
        description="multi_worker_mirrored only: how the workers exchange gradients (TensorFlow's collective "
        "implementation): auto, ring (gRPC, any device) or nccl (GPUs).",
    )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """A strategy name alone stands for ``{strategy: name}`` (see `_shorthand`): say so in the JSON Schema."""
        return {
            "anyOf": [
                *names_schema(STRATEGIES, STRATEGY_ALIASES, "distribution strategy")["anyOf"],
                handler(schema),
            ],
            "description": "A strategy name (mirrored, multi_worker_mirrored), or a mapping with `strategy:` "
            "and its options.",
        }

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        if isinstance(value, str):
            return {"strategy": value}
        if not isinstance(value, dict):
            raise PydanticCustomError(
                "unknown_name",
                "must be a strategy name (mirrored, multi_worker_mirrored) or a mapping with `strategy:` "
                "(received: {value})",
                {"value": repr(value)},
            )
        return value

    @model_validator(mode="after")
    def _options_of_the_strategy(self):
        if self.strategy == MULTI_WORKER_MIRRORED and self.devices is not None:
            raise field_error(
                "devices",
                "multi_worker_mirrored takes no device list: every worker trains on all of its own GPUs (else "
                "its CPU) and TF_CONFIG says which machines are workers; remove `devices` or use mirrored "
                f"(received: devices [{', '.join(self.devices)}])",
            )
        if self.strategy == MIRRORED and "communication" in self.model_fields_set:
            raise field_error(
                "communication",
                "communication applies to multi_worker_mirrored only: mirrored picks its own way to combine "
                f"gradients (NCCL between GPUs); remove it (received: communication {self.communication})",
            )
        if self.devices is not None:
            keys = [device_key(device) for device in self.devices]
            repeated = sorted({device for device, key in zip(self.devices, keys) if keys.count(key) > 1})
            if repeated:
                raise field_error("devices", f"each device may be listed once (received twice: {', '.join(repeated)})")
        return self

    @property
    def replicas(self) -> Optional[int]:
        """How many replicas train in sync, when the spec alone says so: the length of a mirrored device list.
        None when it depends on the machine (every local GPU) or on the cluster (TF_CONFIG)."""
        return len(self.devices) if self.strategy == MIRRORED and self.devices is not None else None


def with_strategy(block: Optional[Distribute], strategy: Optional[str]) -> Optional[Distribute]:
    """Return the distribution a run uses: the spec's ``block``, unless ``strategy`` (`--distribute`) replaces it.

    ``None`` keeps the spec's block; ``"none"`` trains without a strategy; a strategy name keeps the spec's block
    when it names the same strategy (its devices, its communication) and otherwise starts from that strategy's
    defaults: a device list written for mirrored does not carry over to multi_worker_mirrored.

    Raises:
        SettingsError: an unknown strategy name (with a did-you-mean).
    """
    if strategy is None:
        return block
    if strategy.strip().lower() == NONE:
        return None
    try:
        name = canonical_name(strategy.strip(), STRATEGIES, STRATEGY_ALIASES, "distribution strategy")
    except PydanticCustomError:
        suggestion = did_you_mean(strategy, [*STRATEGIES, NONE])
        raise SettingsError(
            f"unknown distribution strategy '{strategy}'{suggestion or ''} (expected one of: {NONE}, "
            f"{', '.join(STRATEGIES)})"
        ) from None
    if block is not None and block.strategy == name:
        return block
    return Distribute.model_validate({"strategy": name})
