"""A `.keras` archive's ``compile_config`` (optimizer, learning-rate schedule, loss, metrics) as `training:`."""

from __future__ import annotations

from typing import Any, Optional

from modelspec.importer import values
from modelspec.importer.graph import mapping
from modelspec.importer.problems import Problem
from modelspec.schema.base import canonical_name
from modelspec.schema.training import (
    KERAS_METRIC_ALIASES,
    LOSS_ALIASES,
    LOSSES,
    METRIC_ALIASES,
    METRICS,
    OPTIMIZER_MODELS,
    CosineDecay,
    ExponentialDecay,
    PiecewiseConstant,
    Training,
)

_OPTIMIZER_NEUTRAL = {
    "weight_decay": None,
    "use_ema": False,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}
# Execution settings, not part of what the model computes or how it learns: not kept (docs/import.md).
_EXECUTION = frozenset({"run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"})


def _schedule_models():
    return {m.KERAS_CLASS: m for m in (ExponentialDecay, CosineDecay, PiecewiseConstant)}


def training_block(compile_config: Any) -> tuple[Optional[dict], list[Problem]]:
    """The `training:` mapping for a compile config (None when the model was not compiled)."""
    if not isinstance(compile_config, dict) or not compile_config:
        return None, []
    problems: list[Problem] = []

    def problem(what: str, why: str, suggestion: str = "") -> None:
        problems.append(Problem("compile_config", what, why, suggestion))

    block: dict[str, Any] = {}
    block.update(_optimizer(compile_config.get("optimizer"), problem))
    loss = compile_config.get("loss")
    if loss is None:
        problem("loss", "the model was compiled without a loss, which a `training:` block needs")
    else:
        block["loss"] = _loss(loss, problem)
    metrics = compile_config.get("metrics")
    if metrics:
        block["metrics"] = _metrics(metrics, problem)
    for key, value in compile_config.items():
        if key in ("optimizer", "loss", "metrics") or key in _EXECUTION:
            continue
        if value is not None:
            problem(key, f"{key}={value!r} has no spec field")
    if problems:
        return None, problems
    try:
        Training.model_validate(block)
    except ValueError as exc:
        problem("training", f"the spec refuses it: {values.first_error(exc)}")
        return None, problems
    return block, []


def _optimizer(value: Any, problem) -> dict:
    if isinstance(value, str):
        value = {"class_name": value, "config": {}}
    if not isinstance(value, dict) or not str(value.get("module", "keras.optimizers")).startswith("keras."):
        problem("optimizer", f"custom optimizer {value!r}")
        return {}
    by_class = {model.KERAS_CLASS.lower(): model for model in OPTIMIZER_MODELS}
    model = by_class.get(str(value.get("class_name")).lower())
    if model is None:
        problem("optimizer", f"optimizer {value.get('class_name')!r} has no spec form")
        return {}
    config, out = _optimizer_settings(model, dict(mapping(value.get("config"))), problem)
    try:
        optimizer = values.compact(model, {k: values.float32(v) for k, v in config.items()}, "optimizer", {})
    except values.Inexpressible as exc:
        problem("optimizer", str(exc))
        return out
    return {"optimizer": optimizer, **out}


def _optimizer_settings(model, config: dict, problem) -> tuple[dict, dict]:
    """The optimizer's arguments the spec has, and its learning-rate schedule (as `training:` entries)."""
    config.pop("name", None)
    if not config.get("use_ema"):
        config.pop("ema_momentum", None)
    out: dict[str, Any] = {}
    rate = config.pop("learning_rate", None)
    if isinstance(rate, dict):
        out["learning_rate_schedule"], rate = _schedule(rate, problem)
    if rate is not None:
        config["learning_rate"] = rate
    kept = {}
    for key, raw in config.items():
        if key in model.model_fields:
            kept[key] = raw
        elif key not in _OPTIMIZER_NEUTRAL or raw != _OPTIMIZER_NEUTRAL[key]:
            problem("optimizer", f"argument {key}={raw!r} has no spec field")
    return kept, out


def _schedule(value: dict, problem) -> tuple[Any, Optional[float]]:
    model = _schedule_models().get(str(value.get("class_name")))
    if model is None:
        problem("learning_rate", f"learning-rate schedule {value.get('class_name')!r} has no spec form")
        return None, None
    config = dict(mapping(value.get("config")))
    config.pop("name", None)
    initial = config.pop("initial_learning_rate", None)
    try:
        schedule = values.compact(model, {k: values.float32(v) for k, v in config.items()}, "schedule", {})
    except values.Inexpressible as exc:
        problem("learning_rate", str(exc))
        return None, None
    return (schedule if isinstance(schedule, dict) else {"type": schedule}), values.float32(initial)


def _loss(value: Any, problem) -> Any:
    if isinstance(value, list):
        return [_loss(item, problem) for item in value]
    if isinstance(value, dict) and value.get("class_name") == "function":
        value = value.get("config")
    if isinstance(value, str):
        try:
            return canonical_name(value, LOSSES, LOSS_ALIASES, "loss")
        except ValueError:
            problem("loss", f"loss {value!r} has no spec form")
            return None
    if not isinstance(value, dict):
        problem("loss", f"loss {value!r}: one loss per output as a list is supported, not a mapping")
        return None
    name = next((n for n, facts in LOSSES.items() if facts.keras_class == value.get("class_name")), None)
    if name is None or not str(value.get("module", "keras.losses")).startswith("keras."):
        problem("loss", f"loss {value.get('class_name')!r} has no spec form")
        return None
    options = _loss_options(name, mapping(value.get("config")), problem)
    return {"type": name, **options} if options else name


def _loss_options(name: str, config: dict, problem) -> dict:
    options = {}
    for key, raw in config.items():
        if key in ("name", "dtype") or (key, raw) in (
            ("reduction", "sum_over_batch_size"),
            ("axis", -1),
            ("ignore_class", None),
        ):
            continue
        if key not in LOSSES[name].options:
            problem("loss", f"{name} argument {key}={raw!r} has no spec field")
        elif raw not in (False, 0.0, None) or key == "delta":
            options[key] = raw
    return options


def _metrics(value: Any, problem) -> list:
    if not isinstance(value, list):
        problem("metrics", "metrics per output (a mapping) have no spec form; the spec's metrics apply to every output")
        return []
    names = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("config", {}).get("name") if isinstance(item.get("config"), dict) else None
        if (
            isinstance(item, str) and item in KERAS_METRIC_ALIASES
        ):  # Keras logs `acc` as `acc`: kept as written, as the spec reader keeps it
            names.append(item)
            continue
        try:
            names.append(canonical_name(item, METRICS, METRIC_ALIASES, "metric"))
        except (ValueError, TypeError):
            problem("metrics", f"metric {item!r} has no spec form")
    return names
