"""Import a Keras model config as a spec: read, flatten, convert every layer, write the spec, check it."""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from modelspec import __version__
from modelspec import source as spec_source
from modelspec.atomic import write_text
from modelspec.errors import SettingsError, SpecError
from modelspec.importer import arithmetic, blocks, emit, weights
from modelspec.importer.graph import OPS_MODULE, FlatModel, InputNode, flatten
from modelspec.importer.layers import convert
from modelspec.importer.problems import Problem, UnsupportedModel, refused
from modelspec.importer.source import ModelSource, read_source
from modelspec.importer.training import training_block
from modelspec.loader import from_document
from modelspec.pretrained.checks import Problem as PretrainedProblem
from modelspec.pretrained.checks import weights_file
from modelspec.schema.spec import Spec, with_defaults
from modelspec.source import Limits

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_MODEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
SCHEMA_FILE = "modelspec.schema.json"
DTYPES = ("float32", "float16", "bfloat16", "float64", "int32", "int64", "uint8", "bool")


@dataclass
class Imported:
    """The result of an import: the spec's text, where it and its weights were written, and what it holds."""

    text: str
    source: str
    name: str
    layers: int
    params: Optional[int] = None  # the weights' values, when there are weights
    spec_path: Optional[Path] = None
    weights_path: Optional[Path] = None


def import_file(
    source: Union[str, os.PathLike],
    output: Union[str, os.PathLike, None] = None,
    *,
    weights_out: Union[str, os.PathLike, None] = None,
    flat: bool = False,
) -> Imported:
    """Import a `.keras` archive or a JSON model config (``model.to_json()``) as a spec.

    Args:
        source: the file; its config is read as data, never executed (see docs/import.md).
        output: where to write the spec (atomically); None: only return its text.
        weights_out: where to write the weights (default: ``<spec>.weights.h5`` beside the spec, when the
            source has weights and ``output`` is given).
        flat: write one line per layer; by default repeated parts of the graph are written as `blocks:`.

    Raises:
        UnsupportedModel: the file is unreadable or hostile, or holds layers or settings a spec cannot express
            (every one is listed); nothing is written then.
    """
    model_source = read_source(source)
    return import_config(
        model_source.config,
        output,
        weights_out=weights_out,
        origin=model_source,
        arrays=lambda layers: weights.archive_arrays(model_source.weights, layers) if model_source.weights else None,
        flat=flat,
    )


def import_config(
    config: dict,
    output: Union[str, os.PathLike, None] = None,
    *,
    weights_out: Union[str, os.PathLike, None] = None,
    origin: Optional[ModelSource] = None,
    arrays=None,
    description: str = "",
    flat: bool = False,
) -> Imported:
    """Import a model config (the dict of ``json.loads(model.to_json())``); ``arrays`` is called with the spec's
    (name, Keras origin) layers and returns their weights, or None. See ``import_file``."""
    where = str(origin.path) if origin is not None else description or "<config>"
    try:
        return _import(config, where, output, weights_out, origin, arrays, flat)
    except RecursionError:  # lists or models nested hundreds deep: no real model is
        raise refused(where, "the config nests too deeply: refused") from None


def _import(config: dict, where: str, output, weights_out, origin: Optional[ModelSource], arrays, as_flat) -> Imported:
    flat = _flatten(config, where)
    layers, items, problems = _layers(flat)
    block, training_problems = training_block(config.get("compile_config"))
    problems += training_problems
    problems += _input_problems(flat)
    if not _MODEL_NAME.match(flat.name):
        problems.append(Problem("model", "name", f"model name {flat.name!r} is not a spec name", "rename the model"))
    if problems:
        raise UnsupportedModel(where, problems)

    spec: dict[str, Any] = {"modelspec": 1, "name": flat.name}
    spec.update(_inputs(flat.inputs))
    plain = copy.deepcopy(layers)
    with_blocks = _layout(spec, layers, None if as_flat else _blocks(items, layers, flat, where))
    if flat.outputs != [layers[-1]["name"]]:
        spec["outputs"] = flat.outputs

    output = Path(output) if output is not None else None
    weighted = [(node.name, node.origin) for node in flat.nodes if not (node.module or "").startswith(OPS_MODULE)]
    found = arrays(weighted) if arrays is not None else None
    weights_path = None
    if found is not None and output is not None:
        weights_path = Path(weights_out) if weights_out is not None else _beside(output)
        if not weights_path.name.endswith(".weights.h5"):
            raise UnsupportedModel(
                where, message=f"{where}: the weights file's name must end in .weights.h5 (received: {weights_path})"
            )
        spec["pretrained"] = {"path": _relative(weights_path, output.parent)}
    if block is not None:
        spec["training"] = block
    header = _header(where, flat, origin, output, found, with_blocks)
    text = emit.spec_text(header, spec)
    params = weights.count(found) if found is not None else None
    unblocked = {key: value for key, value in spec.items() if key != "blocks"}
    try:
        _check(text, where, output, params, {**unblocked, "defaults": {}, "layers": plain})
    except UnsupportedModel as exc:
        if not with_blocks:
            raise
        raise UnsupportedModel(where, message=f"{exc}\n(`modelspec import --flat` writes it without blocks)") from None
    if output is not None:
        _write(output, text, weights_path, found)
    return Imported(text, where, flat.name, len(layers), params, output, weights_path)


def _blocks(items: list[blocks.Item], layers: list[dict], flat: FlatModel, where: str) -> Optional[blocks.Blocked]:
    """The repeated parts of the flat import as blocks, or None when there are none worth writing."""
    single = flat.inputs[0].name if len(flat.inputs) == 1 else None
    found = blocks.find(items, layers, single, _shapes(flat, layers))
    if not found.blocks:
        return None
    if not blocks.same_layers(found.flat(), items):
        raise UnsupportedModel(
            where,
            message=f"{where}: the blocks found do not stand for the model (a bug; please "
            "report; `--flat` imports it without blocks)",
        )
    return found


def _shapes(flat: FlatModel, layers: list[dict]) -> dict:
    """Each layer's output shape and each input's (without the batch axis, as the analysis gives them), from the
    flat spec's analysis; empty when the flat spec does not validate (the check after writing says why)."""
    spec = {"modelspec": 1, "name": "shapes", **_inputs(flat.inputs), "layers": layers}
    try:
        analysis = from_document(spec_source.parse(emit.spec_text([], spec), "<imported>")).analysis
    except SpecError:
        return {}
    shapes = {node.name: tuple(node.shape[1:]) for node in flat.inputs}
    for name, info in analysis.layers.items():
        if info.output_shape is not None:
            shapes[name] = tuple(info.output_shape)
    return shapes


def _layout(spec: dict, layers: list[dict], found: Optional[blocks.Blocked]) -> bool:
    """Put `defaults:`, `blocks:` (with ``found``) and `layers:` into ``spec``; whether it has blocks."""
    entries, written = layers, layers
    if found is not None:
        entries = _entries(found, layers)
        written = [layer for b in found.blocks for layer in b.layers] + [e for e in entries if "type" in e]
    defaults = emit.hoist(written)
    if defaults:
        spec["defaults"] = defaults
    if found is not None:
        spec["blocks"] = found.blocks
    spec["layers"] = entries
    return found is not None


def _entries(found: blocks.Blocked, layers: list[dict]) -> list[dict]:
    """`layers:` with blocks: the flat layers not in a block as the flat import writes them, and the uses."""
    entries = []
    for entry in found.entries:
        if isinstance(entry, int):
            entries.append(layers[entry])
        else:
            previous = found.items[entry.first - 1].name if entry.first > 0 else found.first_input
            entries.append(entry.written(previous))
    return entries


def _flatten(config: dict, where: str) -> FlatModel:
    flat = flatten(config)
    arithmetic.rewrite(flat)
    limits = Limits.from_env()
    if len(flat.nodes) > limits.max_layers:
        raise refused(
            where,
            f"{len(flat.nodes):,} layers, more than a spec may hold ({limits.max_layers:,}); "
            "raise the limit with MODELSPEC_MAX_LAYERS",
        )
    return flat


def _write(output: Path, text: str, weights_path: Optional[Path], found) -> None:
    """Write the weights, then the spec, each atomically; a folder that does not exist is a user error."""
    for path in (output, weights_path):
        if path is not None and not path.parent.resolve().is_dir():
            raise SettingsError(f"cannot write {path}: folder {str(path.parent)!r} does not exist")
    try:
        if weights_path is not None:
            weights.write(weights_path, found)
        write_text(output, text)
    except OSError as exc:
        raise SettingsError(f"cannot write {exc.filename or output}: {exc.strerror or exc}") from exc


def _layers(flat: FlatModel) -> tuple[list[dict], list[blocks.Item], list[Problem]]:
    problems = list(flat.problems)
    converted: dict[str, dict] = {}
    inputs: dict[str, list[str]] = {}
    for node in flat.nodes:
        layer, found = convert(node)
        problems += found
        if not _NAME.match(node.name):
            problems.append(
                Problem(node.where, node.class_name, f"layer name {node.name!r} is not a spec name", "rename the layer")
            )
        if layer is not None:
            converted[node.name] = layer
            inputs[node.name] = node.tensors()
    if not converted and not problems:
        problems.append(Problem("model", flat.class_name, "the model has no layers (only inputs): nothing to build"))
    if not flat.outputs and not problems:
        problems.append(Problem("model", flat.class_name, "the model has no outputs"))
    if problems:
        return [], [], problems
    order = emit.chain_order([node.name for node in flat.nodes], inputs)
    single = flat.inputs[0].name if len(flat.inputs) == 1 else None
    layers = []
    previous = single
    for name in order:
        layer = {"type": converted[name]["type"], "name": name}
        refs = inputs[name]
        if refs != [previous] or converted[name]["type"] in emit.MERGES:
            layer["inputs"] = refs
        layer.update({k: v for k, v in converted[name].items() if k != "type"})
        layers.append(layer)
        previous = name
    classes = {node.name: node.class_name for node in flat.nodes}
    items = [
        blocks.Item(name, tuple(inputs[name]), converted[name], blocks.class_named(name, classes[name]))
        for name in order
    ]
    return layers, items, []


def _input_problems(flat: FlatModel) -> list[Problem]:
    problems = []
    for node in flat.inputs:
        config = node.config
        if not node.shape or node.shape[0] is not None:
            what = "no input shape" if not node.shape else f"a fixed batch size {node.shape[0]}"
            problems.append(
                Problem(node.name, "InputLayer", f"{what}: a spec input has a shape without the batch axis")
            )
        if node.dtype not in DTYPES:
            problems.append(Problem(node.name, "InputLayer", f"dtype {node.dtype!r} has no spec form"))
        for flag in ("sparse", "ragged", "optional"):
            if config.get(flag):
                problems.append(Problem(node.name, "InputLayer", f"{flag} inputs have no spec form"))
        if not _NAME.match(node.name):
            problems.append(Problem(node.name, "InputLayer", f"input name {node.name!r} is not a spec name"))
    return problems


def _inputs(nodes: list[InputNode]) -> dict:
    def one(node: InputNode) -> dict:
        entry = {"name": node.name, "shape": node.shape[1:]}
        if node.dtype != "float32":
            entry["dtype"] = node.dtype
        return entry

    if len(nodes) == 1:
        return {"input": one(nodes[0])}
    return {"inputs": [one(node) for node in nodes]}


def _beside(output: Path) -> Path:
    name = output.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return output.with_name(name + ".weights.h5")


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def _schema_reference(output: Optional[Path]) -> Optional[str]:
    folder = (output.parent if output is not None else Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / SCHEMA_FILE).is_file():
            return _relative(candidate / SCHEMA_FILE, folder)
    return None


def _header(where: str, flat: FlatModel, origin: Optional[ModelSource], output, found, with_blocks) -> list[str]:
    reference = _schema_reference(output)
    lines = [f"yaml-language-server: $schema={reference or SCHEMA_FILE}"]
    keras = f", Keras {origin.keras_version}" if origin is not None and origin.keras_version else ""
    what = "Sequential" if flat.class_name == "Sequential" else "functional"
    lines.append(
        f"Imported from {Path(where).name if origin else where} by `modelspec import` (modelspec {__version__}{keras}):"
    )
    count = f", {weights.count(found):,} parameters" if found is not None else ""
    lines.append(f'the Keras {what} model "{flat.name}", {len(flat.nodes) - flat.rewritten} layers{count}.')
    if flat.rewritten:
        lines.append(
            f"Its {flat.rewritten} CustomScaleLayer layer{'s' if flat.rewritten != 1 else ''} (x + scale * y) "
            f"{'are' if flat.rewritten != 1 else 'is'} written as a rescaling <name>_scale, then an add."
        )
    if found is not None and output is not None:
        lines.append("Its weights load through `pretrained:`, so `modelspec build` gives the same outputs.")
    if with_blocks:
        lines.append("Repeated parts are written as `blocks:`; `modelspec import --flat` writes one line per layer.")
    if reference is None:
        lines.append(f"For editor completion, write the schema beside it: modelspec schema -o {SCHEMA_FILE}")
    return lines


def _check(text: str, where: str, output: Optional[Path], params: Optional[int], plain: dict) -> None:
    """Read the spec back as `modelspec build` will: it must validate, its `defaults:` must change nothing
    (``plain`` is the spec without them) and, with weights, it must count the parameters the weights hold."""
    name = str(output) if output is not None else "<imported>"
    try:
        loaded = from_document(spec_source.parse(text, name))
    except SpecError as exc:
        raise UnsupportedModel(
            where, message=f"{where}: the spec written for it does not validate (nothing was written):\n{exc}"
        ) from None
    if with_defaults(loaded.spec).layers != Spec.model_validate(plain).layers:
        raise UnsupportedModel(
            where, message=f"{where}: modelspec's `defaults:` changed a layer (a bug; please report)"
        )
    if loaded.spec.pretrained is not None:
        located = weights_file(loaded)
        if isinstance(located, PretrainedProblem):
            raise UnsupportedModel(
                where,
                message=f"{where}: the spec could not load its weights from there: {located.message} (nothing was "
                "written; put the weights beside the spec, or in its project)",
            )
    analysis = loaded.analysis
    if params is not None and analysis.complete and analysis.total_params != params:
        raise UnsupportedModel(
            where,
            message=f"{where}: the spec counts {analysis.total_params:,} parameters but the weights hold {params:,} "
            "(nothing was written)",
        )
