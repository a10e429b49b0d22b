"""Read a Keras 3 model config into one flat graph: nested models are opened up and their layers named stably.

Keras 3 serialises a functional model as a list of layers, each with the nodes it was called at: ``args`` and
``kwargs`` in which every tensor is ``{"class_name": "__keras_tensor__", "config": {"keras_history": [layer,
node, index]}}``. Operator nodes (``x + y`` on symbolic tensors) are entries whose module is
``keras.src.ops...``; a nested ``Sequential`` or functional model is an entry holding its own ``layers``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from modelspec.importer.problems import Problem

MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})
_MODEL_MODULES = frozenset(
    {
        None,
        "keras",
        "keras.models",
        "keras.src.models.functional",
        "keras.src.models.sequential",
        "keras.src.models.model",
    }
)
OPS_MODULE = "keras.src.ops"


@dataclass
class Tensor:
    """A tensor in the flat graph: the node that makes it (single-output nodes only)."""

    node: str


@dataclass
class Node:
    """One layer or operation of the flat graph."""

    name: str  # unique in the flat graph
    class_name: str
    module: Optional[str]
    registered_name: Optional[str]
    config: dict
    args: list = field(default_factory=list)  # each a Tensor, a constant, or a list of these
    kwargs: dict = field(default_factory=dict)
    origin: tuple[str, ...] = ()  # the names from the outer model down to the layer
    input_shape: Optional[list] = None  # of the first tensor argument, batch axis included
    trainable: bool = True

    @property
    def where(self) -> str:
        return "/".join(self.origin)

    def tensors(self) -> list[str]:
        """The nodes whose outputs this node takes, in argument order."""
        found: list[str] = []
        for value in [*self.args, *self.kwargs.values()]:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Tensor):
                    found.append(item.node)
        return found


@dataclass
class InputNode:
    name: str
    shape: list
    dtype: str
    config: dict


@dataclass
class FlatModel:
    """A model config as one graph of named nodes, in an order where every node follows its inputs."""

    name: str
    class_name: str
    inputs: list[InputNode] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    build_shape: Optional[list] = None
    rewritten: int = 0  # custom layers rewritten as operator nodes (each one node more: importer/arithmetic.py)


def flatten(top: dict) -> FlatModel:
    """Return the flat graph of a model config (``model.to_json()``, a `.keras` ``config.json``, or a model's
    ``get_config()``); what cannot be read becomes a ``Problem`` in ``problems``."""
    class_name = top.get("class_name", "Functional" if "layers" in top else None)
    class_name = class_name if isinstance(class_name, str) else None
    config = top.get("config", top) if "class_name" in top else top
    name = config.get("name") if isinstance(config, dict) else None
    flat = FlatModel(name if isinstance(name, str) else "model", str(class_name))
    if class_name not in MODEL_CLASSES or not _model_module(top) or not isinstance(config, dict):
        flat.problems.append(
            Problem(
                "model",
                str(class_name),
                "not a Keras functional or Sequential model config (a subclassed model has no graph to read)",
                "rebuild it with the functional API or keras.Sequential, then import that",
            )
        )
        return flat
    build = top.get("build_config")
    flat.build_shape = build.get("input_shape") if isinstance(build, dict) else None
    reader = _Reader(flat, _leaf_name_counts(config))
    outputs = reader.model(class_name, config, (), None, True)
    flat.outputs = [t.node for t in outputs if isinstance(t, Tensor)]
    return flat


def _leaf_name_counts(config: dict) -> Counter:
    """How often each layer name occurs across the model and every nested model (InputLayers of nested models,
    which disappear, excluded)."""
    counts: Counter = Counter()

    def walk(cfg: dict, nested: bool) -> None:
        for entry in cfg.get("layers", []) if isinstance(cfg.get("layers"), list) else []:
            if not isinstance(entry, dict):
                continue
            inner = entry.get("config")
            if _class(entry) in MODEL_CLASSES and isinstance(inner, dict):
                walk(inner, True)
            elif not (nested and _class(entry) == "InputLayer"):
                counts[_entry_name(entry)] += 1

    walk(config, False)
    return counts


def _model_module(entry: dict) -> bool:
    """Whether an entry's module is Keras's own for models (or absent, as in ``get_config()``)."""
    module = entry.get("module")
    return module is None or (isinstance(module, str) and module in _MODEL_MODULES)


def _class(entry: dict) -> str:
    class_name = entry.get("class_name")
    return class_name if isinstance(class_name, str) else "?"


def _entry_name(entry: dict) -> str:
    name = entry.get("name")
    if not isinstance(name, str):
        config = entry.get("config")
        name = config.get("name") if isinstance(config, dict) else None
    return name if isinstance(name, str) else "?"


def mapping(value: Any) -> dict:
    """``value`` when it is a mapping, else an empty one (a hostile config puts anything anywhere)."""
    return value if isinstance(value, dict) else {}


def _history(value: Any) -> Optional[tuple]:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = mapping(value.get("config")).get("keras_history")
        if isinstance(history, list) and len(history) == 3 and isinstance(history[0], str):
            return tuple(history)
    return None


class _Reader:
    def __init__(self, flat: FlatModel, counts: Counter):
        self.flat = flat
        self.counts = counts
        self.used: set[str] = set()

    def problem(self, origin: tuple, what: str, why: str, suggestion: str = "") -> None:
        self.flat.problems.append(Problem("/".join(origin) or "model", what, why, suggestion))

    def flat_name(self, origin: tuple) -> str:
        """The layer's own name when no other layer anywhere has it, else prefixed by its models' names."""
        name = origin[-1]
        if self.counts[name] > 1 and len(origin) > 1:
            name = "_".join(origin)
        candidate, n = name, 1
        while candidate in self.used:
            candidate, n = f"{name}_{n}", n + 1
        self.used.add(candidate)
        return candidate

    def model(self, class_name: str, config: dict, origin: tuple, given: Optional[list], trainable: bool) -> list:
        trainable = trainable and config.get("trainable", True) is not False
        layers = config.get("layers")
        if not isinstance(layers, list):
            self.problem(origin, class_name, "the model config holds no list of layers")
            return []
        if class_name == "Sequential":
            return self.sequential(config, layers, origin, given, trainable)
        return self.functional(config, layers, origin, given, trainable)

    def add_input(self, name: str, config: dict, origin: tuple, shape=None) -> Tensor:
        shape = config.get("batch_shape", config.get("batch_input_shape")) if shape is None else shape
        flat_name = self.flat_name((*origin, name)) if origin else self.flat_name((name,))
        dtype = config.get("dtype", "float32")
        if isinstance(dtype, dict):
            dtype = mapping(dtype.get("config")).get("name", "float32")
        self.flat.inputs.append(InputNode(flat_name, shape if isinstance(shape, list) else [], str(dtype), config))
        return Tensor(flat_name)

    def sequential(self, config: dict, layers: list, origin: tuple, given: Optional[list], trainable: bool) -> list:
        current: list = list(given) if given is not None else []
        for index, entry in enumerate(layers):
            if not isinstance(entry, dict):
                self.problem(origin, "Sequential", f"layers[{index}] is not a layer config")
                continue
            name = _entry_name(entry)
            if entry.get("class_name") == "InputLayer":
                if given is None and not current:
                    current = [self.add_input(name, mapping(entry.get("config")), origin)]
                continue
            if not current:  # a Sequential model without an InputLayer: its build shape says what it takes
                shape = config.get("build_input_shape") or self.flat.build_shape
                if not isinstance(shape, list):
                    self.problem(origin or ("model",), "Sequential", "the model was never built: no input shape")
                    return []
                current = [self.add_input("input_layer", {"dtype": "float32"}, origin, shape)]
            current = self.entry(entry, name, origin, {"args": [current[0]], "kwargs": {}}, trainable)
        return current

    def functional(self, config: dict, layers: list, origin: tuple, given: Optional[list], trainable: bool) -> list:
        local: dict[str, list] = {}
        input_names = [ref[0] for ref in _refs(config.get("input_layers"))]
        for index, entry in enumerate(layers):
            if not isinstance(entry, dict):
                self.problem(origin, "Functional", f"layers[{index}] is not a layer config")
                continue
            name = _entry_name(entry)
            if entry.get("class_name") == "InputLayer":
                if given is None:
                    local[name] = [self.add_input(name, mapping(entry.get("config")), origin)]
                elif name in input_names and input_names.index(name) < len(given):
                    local[name] = [given[input_names.index(name)]]
                continue
            nodes = entry.get("inbound_nodes")
            if not isinstance(nodes, list) or len(nodes) != 1:
                count = len(nodes) if isinstance(nodes, list) else 0
                self.problem(
                    (*origin, name),
                    str(entry.get("class_name")),
                    f"the layer is called {count} times; a spec layer is called exactly once (shared layers have "
                    "no spec form)"
                    if count
                    else "the layer is never called in the graph",
                    "give each call its own layer (weights are then separate)" if count else "",
                )
                continue
            node = self.resolve(nodes[0], local, (*origin, name))
            if node is not None:
                local[name] = self.entry(entry, name, origin, node, trainable)
        outputs = []
        for layer, _, index in _refs(config.get("output_layers")):
            tensors = local.get(layer)
            if tensors is None or not 0 <= index < len(tensors):
                self.problem(origin or ("model",), "Functional", f"output {layer!r} is not produced by any layer")
                continue
            outputs.append(tensors[index])
        return outputs

    def resolve(self, node: Any, local: dict, origin: tuple) -> Optional[dict]:
        """Replace the tensors of a call by the flat graph's; None (and a problem) when one cannot be found."""
        if isinstance(node, list):
            self.problem(
                origin, "config", "a Keras 2 config (inbound_nodes as lists)", "load it in Keras 3 and save it again"
            )
            return None
        if not isinstance(node, dict):
            self.problem(origin, "config", "an inbound node that is not a mapping")
            return None
        ok = [True]

        def swap(value: Any) -> Any:
            history = _history(value)
            if history is not None:
                layer, call, index = history
                tensors = local.get(layer)
                if call != 0 or tensors is None or not isinstance(index, int) or not 0 <= index < len(tensors):
                    ok[0] = False
                    self.problem(
                        origin, "call", f"takes output {index} of call {call} of {layer!r}, which has no spec form"
                    )
                    return None
                return tensors[index]
            if isinstance(value, list):
                return [swap(v) for v in value]
            return value

        args = node.get("args", [])
        kwargs = node.get("kwargs", {})
        resolved = {
            "args": [swap(a) for a in (args if isinstance(args, list) else [args])],
            "kwargs": {k: swap(v) for k, v in kwargs.items()} if isinstance(kwargs, dict) else {},
            "shape": _first_shape(args),
        }
        return resolved if ok[0] else None

    def entry(self, entry: dict, name: str, origin: tuple, call: dict, trainable: bool) -> list:
        class_name = str(entry.get("class_name"))
        config = entry.get("config")
        if not isinstance(config, dict):
            self.problem((*origin, name), class_name, "the layer has no config mapping")
            return []
        if class_name in MODEL_CLASSES and _model_module(entry):
            given = [t for t in call["args"] if isinstance(t, Tensor)]
            if len(call["args"]) == 1 and isinstance(call["args"][0], list):
                given = [t for t in call["args"][0] if isinstance(t, Tensor)]
            return self.model(class_name, config, (*origin, name), given, trainable)
        flat_name = self.flat_name((*origin, name))
        node = Node(
            flat_name,
            class_name,
            entry.get("module") if isinstance(entry.get("module"), str) else None,
            entry.get("registered_name") if isinstance(entry.get("registered_name"), str) else None,
            config,
            call["args"],
            call["kwargs"],
            (*origin, name),
            call.get("shape") or _build_shape(entry),
            trainable and config.get("trainable", True) is not False,
        )
        self.flat.nodes.append(node)
        return [Tensor(flat_name)]


def _refs(value: Any) -> list[tuple]:
    """``input_layers``/``output_layers``: one [name, node, index] or a list of them (nested lists allowed)."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [tuple(value)] if all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:]) else []
    refs: list[tuple] = []
    if isinstance(value, list):
        for item in value:
            refs.extend(_refs(item))
    elif isinstance(value, dict):
        for item in value.values():
            refs.extend(_refs(item))
    return refs


def _first_shape(args: Any) -> Optional[list]:
    for value in args if isinstance(args, list) else [args]:
        if isinstance(value, list):
            shape = _first_shape(value)
            if shape is not None:
                return shape
        elif _history(value) is not None:
            shape = mapping(value.get("config")).get("shape")
            return shape if isinstance(shape, list) else None
    return None


def _build_shape(entry: dict) -> Optional[list]:
    build = entry.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    return shape if isinstance(shape, list) and (not shape or not isinstance(shape[0], list)) else None
