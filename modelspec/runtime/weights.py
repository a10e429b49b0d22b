"""Pretrained weights: read a weights file safely, plan what loads where, and load it into a built model.

Three sources: a Keras ``.weights.h5`` (read with h5py directly), a ``.keras`` archive (only its
``model.weights.h5`` member; its config is never read, let alone executed) and a NumPy ``.npz`` whose keys are
``layer/variable``. The plan is pure data, computed from the spec's analysis and the file's metadata without
TensorFlow; ``modelspec build --plan`` prints it and ``load_into`` executes it on the model modelspec built.
Nothing here calls ``keras.models.load_model`` or unpickles. See docs/security.md for the guards.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from modelspec.diagnostics import SpecError, error
from modelspec.loader import ModelSpec, show_value
from modelspec.schema.pretrained import Pretrained, compile_pattern

SUFFIXES = (".weights.h5", ".keras", ".npz")
# Deflate cannot compress better than about 1032:1; a member that claims more is lying about its size.
MAX_RATIO = 1032
MAX_OBJECTS = 1_000_000  # HDF5 groups and datasets visited in one file
KERAS_MEMBER = "model.weights.h5"
# Keras's construction order of the sublayers it saves as groups (h5py lists groups alphabetically).
_SUBLAYER_ORDER = {"cell": 0, "forward_layer": 0, "backward_layer": 1, "query_dense": 0, "key_dense": 1,
                   "value_dense": 2, "output_dense": 3}


class WeightsError(Exception):
    """A weights file is missing, unreadable, hostile or does not fit the model. The message names the file."""


# --- reading files ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One stored array: where it is in the file, its name below its layer, and its declared shape."""

    key: str
    name: str
    shape: tuple[int, ...]


@dataclass
class Source:
    """What a weights file holds, by layer name: its arrays' names and shapes (metadata only)."""

    path: Path
    kind: str  # "h5", "keras" or "npz"
    layers: dict[str, list[Entry]] = field(default_factory=dict)
    named: bool = False  # entries are named like our variables (npz) rather than ordered (h5)


def kind_of(path: Path) -> str:
    """The format a file name announces; raise ``WeightsError`` for any other name."""
    name = path.name.lower()
    if name.endswith(".weights.h5"):
        return "h5"
    if name.endswith(".keras"):
        return "keras"
    if name.endswith(".npz"):
        return "npz"
    raise WeightsError(f"{path}: not a weights file: the name must end in {', '.join(SUFFIXES)}")


@contextmanager
def open_source(path: os.PathLike | str) -> Iterator[tuple[Source, Any]]:
    """Open a weights file; yield its ``Source`` and a handle for ``read``. Raise ``WeightsError`` when unusable."""
    path = Path(path)
    kind = kind_of(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        size = path.stat().st_size
        if kind == "npz":
            with _zip(path) as archive:
                yield _npz_source(path, archive), archive
            return
        if kind == "keras":
            with _zip(path) as archive:
                member = _member(path, archive, KERAS_MEMBER)
                with archive.open(member) as handle, _h5(path, handle) as h5:
                    yield _h5_source(path, "keras", h5, member.file_size), h5
            return
        with _h5(path, path) as h5:
            yield _h5_source(path, "h5", h5, size), h5
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read: {exc.strerror or exc}") from None


@contextmanager
def _zip(path: Path):
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise WeightsError(f"{path}: not a zip archive, which a {kind_of(path)!r} file must be") from None
    with archive:
        yield archive


def _member(path: Path, archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise WeightsError(f"{path}: the archive holds no {name}") from None
    _check_member(path, info)
    return info


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    """Refuse a member whose declared size no honest archive of this size could hold (a zip bomb)."""
    archive_size = path.stat().st_size
    if info.compress_size > archive_size or info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise WeightsError(f"{path}: archive member {info.filename!r} declares {info.file_size:,} bytes from "
                           f"{info.compress_size:,} compressed bytes in a {archive_size:,}-byte file: refused")


@contextmanager
def _h5(path: Path, handle):
    import h5py

    try:
        h5 = h5py.File(handle, "r")
    except OSError:
        raise WeightsError(f"{path}: not an HDF5 file, which a {kind_of(path)!r} file must be") from None
    with h5:
        yield h5


def _h5_source(path: Path, kind: str, h5, size: int) -> Source:
    """Index a Keras 3 weights file: ``layers/<key>/vars`` carries the layer's name; datasets are its arrays."""
    source = Source(path, kind)
    layers = _group(path, h5, "layers", required=True)
    budget = [MAX_OBJECTS, MAX_RATIO * max(size, 1)]
    for key in _names(path, layers):
        group = _group(path, layers, key)
        if group is None:
            continue
        own = _group(path, group, "vars")
        name = own.attrs.get("name", key) if own is not None else key
        name = name.decode() if isinstance(name, bytes) else str(name)
        entries = [Entry(f"layers/{key}/{sub}", sub, shape) for sub, shape in _datasets(path, group, "", budget)]
        if entries:
            source.layers[name] = entries
    return source


def _names(path: Path, group) -> list[str]:
    """A group's member names, refusing soft and external links (they reach outside what we read)."""
    import h5py

    names = list(group.keys())
    for name in names:
        link = group.get(name, getlink=True)
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            what = "an external link to another file" if isinstance(link, h5py.ExternalLink) else "a soft link"
            raise WeightsError(f"{path}: {group.name.rstrip('/')}/{name} is {what}: refused")
    return names


def _group(path: Path, parent, name: str, required: bool = False):
    import h5py

    if name not in _names(path, parent):
        if required:
            raise WeightsError(f"{path}: no '{name}' group: not a weights file written by Keras 3")
        return None
    item = parent[name]
    return item if isinstance(item, h5py.Group) else None


def _order(name: str) -> tuple:
    if name == "vars":
        return (0, 0, "")
    if name.isdigit():
        return (1, int(name), "")
    return (2, _SUBLAYER_ORDER.get(name, 99), name)


def _datasets(path: Path, group, prefix: str, budget: list) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Yield (relative path, shape) of every dataset below ``group``, in Keras's variable order, checking each."""
    import h5py

    for name in sorted(_names(path, group), key=_order):
        budget[0] -= 1
        if budget[0] < 0:
            raise WeightsError(f"{path}: more than {MAX_OBJECTS:,} HDF5 objects: refused")
        item = group[name]
        if isinstance(item, h5py.Group):
            yield from _datasets(path, item, f"{prefix}{name}/", budget)
        elif isinstance(item, h5py.Dataset):
            _check_dataset(path, item, budget)
            yield f"{prefix}{name}", tuple(int(d) for d in item.shape)


def _check_dataset(path: Path, dataset, budget: list) -> None:
    """Refuse datasets that are not plain numbers in this file, or whose declared size the file cannot hold."""
    where = dataset.name
    if dataset.dtype.kind not in "fiub":
        raise WeightsError(f"{path}: {where} holds {dataset.dtype} values, not numbers: refused")
    if dataset.external or getattr(dataset, "is_virtual", False):
        raise WeightsError(f"{path}: {where} stores its data in another file (external or virtual dataset): "
                           f"refused")
    declared = math.prod(dataset.shape or ()) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    budget[1] -= declared
    if declared > MAX_RATIO * max(stored, 1) or budget[1] < 0:
        raise WeightsError(f"{path}: {where} declares {declared:,} bytes ({show_value(list(dataset.shape))}) but "
                           f"stores {stored:,}: refused")


def _npz_source(path: Path, archive: zipfile.ZipFile) -> Source:
    """Index an .npz: members ``layer/variable.npy``; each header's declared size must fit its member."""
    import numpy as np

    source = Source(path, "npz", named=True)
    for info in archive.infolist():
        _check_member(path, info)
        key = info.filename.removesuffix(".npy")
        layer, _, variable = key.partition("/")
        if not variable:
            raise WeightsError(f"{path}: key {key!r} is not of the form layer/variable (e.g. hidden1/kernel)")
        with archive.open(info) as handle:
            try:
                version = np.lib.format.read_magic(handle)
                shape, _, dtype = (np.lib.format.read_array_header_1_0(handle) if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0(handle))
            except ValueError as exc:
                raise WeightsError(f"{path}: member {info.filename!r} is not a NumPy array: {exc}") from None
        if dtype.kind not in "fiub":
            raise WeightsError(f"{path}: {key} holds {dtype} values, not numbers: refused (no pickles)")
        declared = math.prod(shape) * dtype.itemsize
        if declared > info.file_size:
            raise WeightsError(f"{path}: {key} declares {declared:,} bytes ({show_value(list(shape))}) in a "
                               f"{info.file_size:,}-byte member: refused")
        source.layers.setdefault(layer, []).append(Entry(info.filename, variable, tuple(shape)))
    return source


def read(source: Source, handle, layer: str) -> list:
    """Read the arrays of one source layer, in the order of its entries."""
    import numpy as np

    if source.kind == "npz":
        arrays = []
        for entry in source.layers[layer]:
            with handle.open(entry.key) as member:
                arrays.append(np.lib.format.read_array(member, allow_pickle=False))
        return arrays
    return [handle[entry.key][()] for entry in source.layers[layer]]


# --- the plan -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VariablePlan:
    """One variable of our layer: the shape the spec gives it and the shape found in the file."""

    name: str
    expected: Optional[tuple[int, ...]]  # None: unknown until Keras builds the layer (opaque `type: keras`)
    found: Optional[tuple[int, ...]]


@dataclass(frozen=True)
class LayerPlan:
    """What happens to one weighted layer: loaded, frozen (loaded, then frozen), skipped (why) or new."""

    layer: str
    source: Optional[str]
    status: str
    trainable: bool
    variables: tuple[VariablePlan, ...]
    reason: Optional[str] = None

    @property
    def loads(self) -> bool:
        return self.status in ("loaded", "frozen")


@dataclass
class Plan:
    """The whole plan for one build: the file and one row per weighted layer."""

    path: Path
    kind: str
    layers: list[LayerPlan]
    unused: list[str]  # layers in the file that no layer of ours takes

    def count(self, status: str) -> int:
        return sum(1 for row in self.layers if row.status == status)

    @property
    def loaded(self) -> list[LayerPlan]:
        return [row for row in self.layers if row.loads]


def settings(loaded: ModelSpec, weights=None) -> Optional[Pretrained]:
    """The `pretrained:` block in force: the spec's, with ``weights`` (command line / API) replacing its path."""
    block = loaded.spec.pretrained
    if weights is None:
        return block
    block = block or Pretrained(path=os.fspath(weights))
    return block.model_copy(update={"path": os.fspath(weights)})


def resolve(loaded: ModelSpec, weights=None) -> Path:
    """Where the weights file is. A spec's path is relative to its folder and may not leave it; an explicit
    ``weights`` (trusted: typed by the person running modelspec) is taken as given."""
    if weights is not None:
        return Path(weights)
    text = loaded.spec.pretrained.path
    relative = Path(text)
    escapes = relative.is_absolute() or os.path.isabs(text) or re.match(r"^[A-Za-z]:", text) or \
        os.path.normpath(text).split(os.sep)[0] == ".." or "\\" in text
    if escapes:
        raise _spec_error(loaded, ("pretrained", "path"),
                          f"pretrained.path must be relative to the spec's folder and stay inside it "
                          f"(received: {show_value(text)})",
                          hint="move the file next to the spec, or pass it with `modelspec build --weights FILE`")
    return loaded.folder / relative


def _spec_error(loaded: ModelSpec, where: tuple, message: str, hint: Optional[str] = None) -> SpecError:
    line, column = loaded.document.locate(where)
    return SpecError([error(loaded.path, line, column, message, layer=".".join(map(str, where)), hint=hint)])


def _patterns(loaded: ModelSpec, block: Pretrained) -> list[tuple[int, re.Pattern]]:
    if isinstance(block.freeze, bool):
        return []
    problems, compiled = [], []
    for index, text in enumerate(block.freeze):
        pattern = compile_pattern(text)
        if isinstance(pattern, str):
            line, column = loaded.document.locate(("pretrained", "freeze", index))
            problems.append(error(loaded.path, line, column, pattern, layer=f"pretrained.freeze[{index}]"))
        else:
            compiled.append((index, pattern))
    if problems:
        raise SpecError(problems)
    return compiled


def check_spec(loaded: ModelSpec, block: Pretrained) -> list[tuple[int, re.Pattern]]:
    """Check what needs no file: `map` keys name our weighted layers; `freeze` patterns compile and match one."""
    weighted = [name for name, info in loaded.analysis.layers.items() if info.variables != []]
    problems = []
    for key in block.map:
        if key not in weighted:
            line, column = loaded.document.locate(("pretrained", "map", key))
            known = "no layer" if key not in loaded.analysis.layers else "a layer without weights"
            problems.append(error(loaded.path, line, column, f"map names {known} of this spec (received: "
                                  f"{show_value(key)})", layer=f"pretrained.map.{key}"))
    patterns = _patterns(loaded, block)
    for index, pattern in patterns:
        if not any(pattern.fullmatch(name) for name in weighted):
            line, column = loaded.document.locate(("pretrained", "freeze", index))
            problems.append(error(loaded.path, line, column, f"freeze pattern matches no layer with weights "
                                  f"(received: {show_value(pattern.pattern)})", layer=f"pretrained.freeze[{index}]"))
    if problems:
        raise SpecError(problems)
    return patterns


def make_plan(loaded: ModelSpec, source: Source, block: Pretrained) -> Plan:
    """Decide, layer by layer, what loads from ``source``; raise on anything that would load wrongly."""
    patterns = check_spec(loaded, block)
    path = source.path
    problems = []
    for key, target in block.map.items():
        if target not in source.layers:
            line, column = loaded.document.locate(("pretrained", "map", key))
            problems.append(error(loaded.path, line, column, f"map target {target!r} is not a layer with weights in "
                                  f"{path}", layer=f"pretrained.map.{key}",
                                  hint=f"layers in the file: {_listing(source.layers)}"))
    if problems:
        raise SpecError(problems)

    rows, taken = [], set()
    for name, info in loaded.analysis.layers.items():
        if info.variables == []:
            continue
        origin = block.map.get(name, name)
        frozen = info.spec.frozen or any(p.fullmatch(name) for _, p in patterns)
        expected = [(v.name, v.shape) for v in info.variables] if info.variables is not None else None
        if origin not in source.layers:
            variables = tuple(VariablePlan(n, s, None) for n, s in expected or [])
            rows.append(LayerPlan(name, None, "new", not frozen, variables, "not in the file"))
            continue
        taken.add(origin)
        entries = source.layers[origin]
        variables, problem = _match(expected, entries, source.named)
        if problem:
            message = f"layer '{name}' (from '{origin}' in {path}): {problem}"
            if not block.skip_mismatch:
                raise WeightsError(message)
            rows.append(LayerPlan(name, origin, "skipped", not frozen, variables, problem))
            continue
        frozen = frozen or block.freeze is True
        rows.append(LayerPlan(name, origin, "frozen" if frozen else "loaded", not frozen, variables))
    plan = Plan(path, source.kind, rows, [name for name in source.layers if name not in taken])
    if not plan.loaded:
        skipped = plan.count("skipped")
        raise WeightsError(f"{path}: no layer would be loaded" + (f" ({skipped} skipped by skip_mismatch)"
                                                                   if skipped else "") +
                           f"; layers in the file: {_listing(source.layers)}; layers of the spec: "
                           f"{_listing([row.layer for row in rows])} (use `map` where names differ)")
    return plan


def _listing(names, limit: int = 12) -> str:
    names = list(names)
    text = ", ".join(names[:limit]) or "none"
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _match(expected, entries: list[Entry], named: bool) -> tuple[tuple[VariablePlan, ...], Optional[str]]:
    """Pair our variables with the file's arrays: by name (npz) or by position (Keras files)."""
    if expected is None:  # opaque layer: Keras checks the shapes when loading
        return tuple(VariablePlan(e.name, None, e.shape) for e in entries), None
    if named:
        found = {e.name: e.shape for e in entries}
        variables = tuple(VariablePlan(n, s, found.get(n)) for n, s in expected)
        missing = [n for n, _ in expected if n not in found]
        extra = [e.name for e in entries if e.name not in dict(expected)]
        if missing or extra:
            return variables, ("variables do not match: " + "; ".join(
                part for part in (f"missing {', '.join(missing)}" if missing else "",
                                  f"unexpected {', '.join(extra)}" if extra else "") if part) +
                f" (expected: {', '.join(n for n, _ in expected)})")
    else:
        if len(entries) != len(expected):
            variables = tuple(VariablePlan(n, s, entries[i].shape if i < len(entries) else None)
                              for i, (n, s) in enumerate(expected))
            return variables, (f"variable count mismatch: expected {len(expected)} "
                               f"({', '.join(n for n, _ in expected)}), found {len(entries)}")
        variables = tuple(VariablePlan(n, s, e.shape) for (n, s), e in zip(expected, entries))
    for variable in variables:
        if variable.found != variable.expected:
            return variables, (f"shape mismatch for {variable.name}: expected {_shape(variable.expected)}, "
                               f"found {_shape(variable.found)}")
    return variables, None


def _shape(shape) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def prepare(loaded: ModelSpec, weights=None) -> Optional[tuple[Pretrained, Path]]:
    """The `pretrained:` settings and the resolved file, or None when the build loads nothing."""
    block = settings(loaded, weights)
    if block is None:
        return None
    check_spec(loaded, block)
    return block, resolve(loaded, weights)


def plan_for(loaded: ModelSpec, weights=None) -> Plan:
    """Compute the plan without loading any array (no TensorFlow). Raise when there is nothing to plan."""
    prepared = prepare(loaded, weights)
    if prepared is None:
        raise _spec_error(loaded, (), "the spec has no `pretrained:` block and no --weights file was given")
    block, path = prepared
    with open_source(path) as (source, _):
        return make_plan(loaded, source, block)


# --- loading ------------------------------------------------------------------------------------------------

def load_into(model, loaded: ModelSpec, weights=None) -> Optional[Plan]:
    """Load the planned layers' arrays into ``model`` (built by modelspec from ``loaded``), then freeze."""
    prepared = prepare(loaded, weights)
    if prepared is None:
        return None
    block, path = prepared
    with open_source(path) as (source, handle):
        plan = make_plan(loaded, source, block)
        for row in plan.loaded:
            layer = model.get_layer(row.layer)
            arrays = read(source, handle, row.source)
            if source.named and row.variables and row.variables[0].expected is not None:
                by_name = {e.name: a for e, a in zip(source.layers[row.source], arrays)}
                arrays = [by_name[v.name] for v in row.variables]
            targets = layer.weights
            if len(targets) != len(arrays):
                raise WeightsError(f"layer '{row.layer}' (from '{row.source}' in {path}): variable count mismatch: "
                                   f"Keras built {len(targets)}, found {len(arrays)}")
            for variable, array in zip(targets, arrays):
                if tuple(variable.shape) != tuple(array.shape):
                    raise WeightsError(f"layer '{row.layer}' (from '{row.source}' in {path}): shape mismatch for "
                                       f"{variable.path}: expected {_shape(tuple(variable.shape))}, found "
                                       f"{_shape(tuple(array.shape))}")
            for variable, array in zip(targets, arrays):
                variable.assign(array.astype(variable.dtype, copy=False))
    for row in plan.layers:
        if not row.trainable:
            model.get_layer(row.layer).trainable = False
    return plan


# --- printing -----------------------------------------------------------------------------------------------

def plan_table(plan: Plan):
    """Return the plan as a rich table: one row per weighted layer, then totals in the caption."""
    from rich.table import Table

    table = Table(title=f"Pretrained weights: {plan.path}", title_justify="left",
                  caption=totals(plan), caption_justify="left")
    for column in ("Layer", "Source layer", "Variable", "Expected", "Found", "Status", "Trainable"):
        table.add_column(column, no_wrap=column != "Status")
    for row in plan.layers:
        status = row.status + (f" ({row.reason})" if row.reason and row.status != "new" else "")
        if row.status == "new":
            status = "new (not in the file)"
        variables = row.variables or (VariablePlan("-", None, None),)
        for i, variable in enumerate(variables):
            first = i == 0
            table.add_row(row.layer if first else "", (row.source or "-") if first else "", variable.name,
                          _shape(variable.expected), "-" if variable.found is None else _shape(variable.found),
                          status if first else "", ("yes" if row.trainable else "no") if first else "")
    return table


def totals(plan: Plan) -> str:
    """One line: how many layers load, are frozen, skipped, new, and what in the file goes unused."""
    text = (f"{len(plan.loaded)} of {len(plan.layers)} layers load ({plan.count('frozen')} frozen), "
            f"{plan.count('skipped')} skipped, {plan.count('new')} new")
    if plan.unused:
        text += f"; unused in the file: {_listing(plan.unused)}"
    return text
