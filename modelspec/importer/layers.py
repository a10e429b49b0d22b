"""One Keras layer (or operator node) of the flat graph as one spec layer, or the reasons it has no spec form."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from modelspec.importer import values
from modelspec.importer.graph import Node, Tensor, mapping
from modelspec.importer.problems import Problem
from modelspec.schema.base import type_name
from modelspec.schema.layers import LAYER_TYPES
from modelspec.schema.layers.passthrough import ALLOWED

BY_KERAS_CLASS: dict[str, type[BaseModel]] = {
    model.KERAS_CLASS: model for model in LAYER_TYPES.values() if model.KERAS_CLASS
}
# Keras arguments the spec has no field for, at the value that makes them do nothing.
NEUTRAL: dict[str, Any] = {
    "data_format": "channels_last",
    "lora_rank": None,
    "lora_alpha": None,
    "quantization_config": None,
    "synchronized": False,
    "renorm": False,
    "rms_scaling": False,
    "output_padding": None,
    "return_state": False,
    "stateful": False,
    "unroll": False,
    "use_cudnn": "auto",
    "attention_axes": None,
    "flash_attention": None,
    "input_length": None,
    "sparse": False,
    "zero_output_for_mask": False,
    "time_major": False,
    "implementation": 2,
    "activity_regularizer": None,
    "use_gate": False,
    "sliding_window": None,
}
# Arguments that only matter when another one is on (renorm_momentum without renorm).
DEPENDENT = {"renorm_momentum": "renorm", "renorm_clipping": "renorm"}
# Per-axis fields that a person writes as one number when every axis has the same value.
PER_AXIS = frozenset({"kernel_size", "strides", "dilation_rate", "pool_size", "size"})
_LAYER_MODULES = ("keras.layers", "keras.src.layers")
SUGGEST_LAMBDA = (
    "write what the function computes with spec layers (activation, rescaling, add, ...), or keep that part "
    "in Python: build the spec's model with modelspec.build_model and wrap it"
)
SUGGEST_CUSTOM = (
    "custom classes run code the spec cannot hold: replace the layer by built-in layers, or leave it out of the "
    "imported part and add it in Python around the model that modelspec builds"
)


def convert(node: Node) -> tuple[Optional[dict], list[Problem]]:
    """The spec layer for ``node`` (a dict as it would be written, name and inputs left to the caller)."""
    problems: list[Problem] = []

    def problem(why: str, suggestion: str = "") -> None:
        problems.append(Problem(node.where, node.class_name, why, suggestion))

    if node.module and node.module.startswith("keras.src.ops"):
        return _operator(node, problem), problems
    special = _SPECIAL.get(node.class_name)
    if not _builtin(node) and not (special and _trusted_special(node)):
        origin = [f"module {node.module!r}"] if node.module else []
        origin += [f"registered as {node.registered_name!r}"] if node.registered_name else []
        problem(f"custom class ({', '.join(origin) or 'no module'})", SUGGEST_CUSTOM)
        return None, problems
    _check_common(node, problem)
    _check_call(node, problem)
    if special is not None:
        layer = special(node, problem)
    elif node.class_name in BY_KERAS_CLASS:
        layer = _generic(BY_KERAS_CLASS[node.class_name], node.config, node, problem)
    elif node.class_name in ALLOWED:
        layer = _passthrough(node, problem)
    elif node.class_name == "Lambda":
        problem("a Lambda layer runs Python code, which a spec never holds", SUGGEST_LAMBDA)
        layer = None
    else:
        problem("no spec layer type or allowed `type: keras` class corresponds to it", SUGGEST_CUSTOM)
        layer = None
    if layer is not None and not node.trainable:
        layer["trainable"] = False
    return (layer if not problems else None), problems


def _builtin(node: Node) -> bool:
    return (
        node.module is not None
        and (node.module == "keras" or node.module.startswith(_LAYER_MODULES))
        and node.registered_name in (None, node.class_name)
    )


def _trusted_special(node: Node) -> bool:
    """keras.applications' ConvNeXt LayerScale and modelspec's own LayerScale are known, though not keras.layers."""
    return (node.module, node.registered_name) in {
        ("keras.src.applications.convnext", "LayerScale"),
        ("modelspec.runtime.layers", "modelspec>LayerScale"),
    }


def _check_common(node: Node, problem) -> None:
    dtype = node.config.get("dtype")
    if isinstance(dtype, dict):
        dtype = mapping(dtype.get("config")).get("name")
    if not (dtype is None or dtype == "float32"):
        problem(f"dtype policy {dtype!r}: a spec builds float32 layers", "import the float32 model")


def _check_call(node: Node, problem) -> None:
    for key, value in node.kwargs.items():
        # Keras records `training=False` on layers whose call defaults to it (Dropout); fit() overrides it.
        if value is None or (key == "training" and value is False):
            continue
        if not (key in ("query", "value", "key") and isinstance(value, Tensor)):
            problem(f"called with {key}={_show(value)}, which a spec layer cannot pass")
    for value in node.args:
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, Tensor):
                problem(f"called with the constant {_show(item)}, which a spec layer cannot pass")


def _show(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"the output of {value.node}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _generic(model: type[BaseModel], config: dict, node: Node, problem) -> Optional[dict]:
    fields = model.model_fields
    layer: dict[str, Any] = {"type": type_name(model)}
    for key, raw in config.items():
        if key in ("name", "trainable", "dtype"):
            continue
        if key in fields and key not in ("type", "inputs", "layer"):
            try:
                value = _field(key, raw)
            except values.Inexpressible as exc:
                problem(str(exc), "use a built-in Keras object the spec format lists (docs/import.md)")
                continue
            layer[key] = _compact(key, value, node)
        elif (key in NEUTRAL and raw == NEUTRAL[key]) or _implied(key, raw, config, node):
            continue
        else:
            problem(f"argument {key}={_show(raw)} has no field in the spec's {type_name(model)} layer")
    if "pool_size" in fields and layer.get("strides") == layer.get("pool_size", field_default(model, "pool_size")):
        layer.pop("strides", None)  # the spec's default: strides equal to the pool size
    return _without_defaults(model, layer, problem)


def _implied(key: str, raw: Any, config: dict, node: Node) -> bool:
    """Whether an argument the spec has no field for holds what the rest of the config implies anyway."""
    if key in DEPENDENT:
        return not config.get(DEPENDENT[key])  # renorm_momentum without renorm
    if key == "attention_axes" and node.input_shape:
        return raw == list(range(1, len(node.input_shape) - 1))  # every axis but the batch and the features
    return False


def _field(key: str, raw: Any) -> Any:
    if key.endswith("_initializer"):
        return values.initializer(raw)
    if key.endswith("_regularizer"):
        return values.regularizer(raw)
    if key.endswith("_constraint"):
        return values.constraint(raw)
    if key in ("activation", "recurrent_activation"):
        return values.activation(raw)
    return values.plain(raw)


def _compact(key: str, value: Any, node: Node) -> Any:
    """Write per-axis lists as one number when every axis agrees, and the last axis as -1."""
    if key in PER_AXIS and isinstance(value, list) and value and all(v == value[0] for v in value):
        return value[0]
    if key in ("padding", "cropping") and isinstance(value, list):
        pairs = [v[0] if isinstance(v, list) and len(v) == 2 and v[0] == v[1] else v for v in value]
        if pairs and all(isinstance(p, int) for p in pairs):
            return pairs[0] if all(p == pairs[0] for p in pairs) else pairs
        return pairs if len(value) > 1 else value
    if key == "axis" and isinstance(value, list) and len(value) == 1:
        value = value[0]
    if key == "axis" and isinstance(value, int) and value > 0 and node.input_shape:
        return -1 if value == len(node.input_shape) - 1 else value
    return value


def field_default(model: type[BaseModel], key: str) -> Any:
    default = model.model_fields[key].default
    if default is PydanticUndefined:
        return PydanticUndefined
    if isinstance(default, BaseModel):
        params = default.model_dump(exclude_defaults=True, exclude={"type"})
        return {"type": default.type, **params} if params else default.type
    return default


def _without_defaults(model: type[BaseModel], layer: dict, problem) -> Optional[dict]:
    """Check the layer against the schema, then leave out what equals the schema's default."""
    try:
        model.model_validate({**layer, "name": "layer"})
    except ValueError as exc:
        problem(f"the spec refuses its arguments: {values.first_error(exc)}")
        return None
    kept = {k: v for k, v in layer.items() if k == "type" or v != field_default(model, k)}
    required = [k for k in kept if model.model_fields[k].is_required() and k != "type"]
    # The type, then what the layer cannot do without (units, filters, rate...), then the rest in Keras's order.
    return {"type": kept["type"], **{k: kept[k] for k in required}, **kept}


def _passthrough(node: Node, problem) -> Optional[dict]:
    config = {}
    for key, raw in node.config.items():
        if key in ("name", "trainable", "dtype"):
            continue
        if key in NEUTRAL and raw == NEUTRAL[key]:
            continue
        config[key] = values.plain(raw)
    layer = (
        {"type": "keras", "class_name": node.class_name, "config": config}
        if config
        else {
            "type": "keras",
            "class_name": node.class_name,
        }
    )
    return _without_defaults(LAYER_TYPES["keras"], layer, problem)


# --- layers with a better spec form than their class --------------------------------------------------------


def _relu(node: Node, problem) -> Optional[dict]:
    config = node.config
    max_value = config.get("max_value")
    if config.get("negative_slope", 0.0) == 0.0 and config.get("threshold", 0.0) == 0.0 and max_value in (None, 6.0):
        return {"type": "activation", "activation": "relu" if max_value is None else "relu6"}
    return _passthrough(node, problem)


def _activation_class(name: str, argument: str, neutral: Any):
    def convert(node: Node, problem) -> Optional[dict]:
        if node.config.get(argument, neutral) == neutral:
            return {"type": "activation", "activation": name}
        return _passthrough(node, problem)

    return convert


def _convnext_layer_scale(node: Node, problem) -> Optional[dict]:
    if node.registered_name == "modelspec>LayerScale":
        return _generic(LAYER_TYPES["layer_scale"], node.config, node, problem)
    config = {k: v for k, v in node.config.items() if k != "projection_dim"}
    config["init_value"] = config.pop("init_values", 1e-6)
    return _generic(LAYER_TYPES["layer_scale"], config, node, problem)


def _bidirectional(node: Node, problem) -> Optional[dict]:
    config = node.config
    forward = config.get("layer")
    backward = config.get("backward_layer")
    if not isinstance(forward, dict) or forward.get("class_name") not in ("LSTM", "GRU", "SimpleRNN"):
        problem("bidirectional wraps a layer other than LSTM, GRU or SimpleRNN")
        return None
    inner_config = dict(mapping(forward.get("config")))
    if isinstance(backward, dict):
        mirror = {**mapping(backward.get("config")), "name": inner_config.get("name")}
        mirror["go_backwards"] = not mirror.get("go_backwards", False)
        if mirror != inner_config or backward.get("class_name") != forward.get("class_name"):
            problem("its backward layer is not the mirror of its forward layer", "use one layer for both directions")
            return None
    if inner_config.get("zero_output_for_mask") == inner_config.get("return_sequences"):
        inner_config.pop("zero_output_for_mask", None)  # Bidirectional sets it so itself
    inner = _generic(BY_KERAS_CLASS[forward["class_name"]], inner_config, node, problem)
    layer: dict[str, Any] = {"type": "bidirectional"}
    for key, raw in config.items():
        if key == "merge_mode":
            layer[key] = raw
        elif key not in ("name", "trainable", "dtype", "layer", "backward_layer"):
            problem(f"argument {key}={_show(raw)} has no field in the spec's bidirectional layer")
    if inner is None:
        return None
    return _without_defaults(LAYER_TYPES["bidirectional"], {**layer, "layer": inner}, problem)


_SPECIAL = {
    "ReLU": _relu,
    "ELU": _activation_class("elu", "alpha", 1.0),
    "Softmax": _activation_class("softmax", "axis", -1),
    "LeakyReLU": _activation_class("leaky_relu", "negative_slope", 0.2),
    "LayerScale": _convnext_layer_scale,
    "Bidirectional": _bidirectional,
}


# --- operator nodes (x + y in a functional model) -----------------------------------------------------------

_MERGES = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply"}


def _operator(node: Node, problem) -> Optional[dict]:
    """keras.ops nodes: two tensors combined element-wise become a merge layer; a tensor and a number become
    rescaling (x * c, x + c, x - c, c - x, x / c)."""
    operation = node.class_name
    args = node.args
    tensors = [a for a in args if isinstance(a, Tensor)]
    numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if node.kwargs and any(v is not None for v in node.kwargs.values()):
        problem(f"operator keras.ops.{operation} called with keyword arguments")
        return None
    if len(args) == 2 and len(tensors) == 2 and operation in _MERGES:
        return {"type": _MERGES[operation]}
    if len(args) == 2 and len(tensors) == 1 and len(numbers) == 1:
        c = float(numbers[0])
        first = isinstance(args[0], Tensor)
        scale_offset = {
            ("Multiply", True): (c, 0.0),
            ("Multiply", False): (c, 0.0),
            ("Add", True): (1.0, c),
            ("Add", False): (1.0, c),
            ("Subtract", True): (1.0, -c),
            ("Subtract", False): (-1.0, c),
            ("Divide", True): (1.0 / c if c else None, 0.0),
            ("TrueDivide", True): (1.0 / c if c else None, 0.0),
        }.get((operation, first))
        if scale_offset is not None and scale_offset[0] is not None:
            scale, offset = scale_offset
            return {"type": "rescaling", "scale": scale, **({"offset": offset} if offset else {})}
    problem(
        f"operator node keras.ops.{operation} on {len(tensors)} tensor(s) and {len(args) - len(tensors)} "
        "other argument(s) has no spec form",
        "use a layer instead (keras.layers.Add, Multiply, Rescaling, ...)",
    )
    return None
