"""Read a pretrained-weights file safely: what it holds (metadata), and one layer's arrays on demand.

Three sources: a Keras ``.weights.h5`` (read with h5py directly), a ``.keras`` archive (only its
``model.weights.h5`` member; its config is never read, let alone executed) and a NumPy ``.npz`` whose keys are
``layer/variable``. Nothing here imports TensorFlow, calls ``keras.models.load_model`` or unpickles; h5py and
NumPy are imported when a file is opened. See docs/security.md for the guards.
"""

from __future__ import annotations

import math
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelspec import archives
from modelspec.errors import WeightsError
from modelspec.validation_errors import show_value

SUFFIXES = (".weights.h5", ".keras", ".npz")
# Deflate cannot compress better than about 1032:1: an HDF5 dataset (chunks compressed with gzip) that declares
# more than this many times what it stores is lying about its size. Zip members: modelspec/archives.py.
MAX_RATIO = 1032
MAX_OBJECTS = 1_000_000  # HDF5 groups and datasets visited in one file
KERAS_MEMBER = "model.weights.h5"
REFUSAL = archives.plain(WeightsError)
# Keras's construction order of the sublayers it saves as groups (h5py lists groups alphabetically).
_SUBLAYER_ORDER = {
    "cell": 0,
    "forward_layer": 0,
    "backward_layer": 1,
    "query_dense": 0,
    "key_dense": 1,
    "value_dense": 2,
    "output_dense": 3,
}


def _h5py():
    try:
        import h5py
    except ImportError:
        raise WeightsError(
            "reading .weights.h5 and .keras files needs h5py, which comes with TensorFlow: pip install 'modelspec[tf]'"
        ) from None
    return h5py


def _numpy():
    try:
        import numpy
    except ImportError:
        raise WeightsError(
            "reading weights files needs NumPy, which comes with TensorFlow: pip install 'modelspec[tf]'"
        ) from None
    return numpy


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
    """Open a weights file; yield its ``Source`` and a handle for ``read``. Raise ``WeightsError`` when unusable,
    also for a corrupt file found corrupt while the block reads it (``archives.guarded``)."""
    path = Path(path)
    kind = kind_of(path)
    problem = archives.regular_file(path)
    if problem is not None:
        raise WeightsError(f"{path}: {problem}")
    with ExitStack() as stack:
        with archives.guarded(str(path), REFUSAL, "cannot read"):
            source, handle = _open(stack, path, kind)
        yield source, handle  # the caller's own errors pass as they are; ``read`` guards its reads


def _open(stack: ExitStack, path: Path, kind: str) -> tuple[Source, Any]:
    if kind == "npz":
        archive = stack.enter_context(_zip(path))
        return _npz_source(path, archive), archive
    if kind == "keras":
        archive = stack.enter_context(_zip(path))
        member = archive_member(path, archive, KERAS_MEMBER)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="modelspec-weights-")))
        handle = stack.enter_context(archives.hdf5_member(path, archive, member, folder, REFUSAL))
        h5 = stack.enter_context(_h5(path, handle))
        return _h5_source(path, "keras", h5, member.file_size), h5
    h5 = stack.enter_context(_h5(path, path))
    return _h5_source(path, "h5", h5, path.stat().st_size), h5


@contextmanager
def _zip(path: Path):
    with archives.open_zip(path, REFUSAL, f"a {kind_of(path)!r} file") as archive:
        yield archive


def archive_member(path: Path, archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """The member ``name`` after the checks of ``archives.check_member`` (sizes no honest archive declares)."""
    return archives.member(path, archive, name, REFUSAL)


@contextmanager
def _h5(path: Path, handle):
    h5py = _h5py()

    try:
        h5 = h5py.File(handle, "r")
    except OSError:
        raise WeightsError(f"{path}: not an HDF5 file, which a {kind_of(path)!r} file must be") from None
    with h5:
        yield h5


def _h5_source(path: Path, kind: str, h5, size: int) -> Source:
    """Index a Keras 3 weights file: ``layers/<key>/vars`` carries the layer's name; datasets are its arrays."""
    source = Source(path, kind)
    layers = child_group(path, h5, "layers", required=True)
    budget = [MAX_OBJECTS, MAX_RATIO * max(size, 1)]
    for key in group_names(path, layers):
        group = child_group(path, layers, key)
        if group is None:
            continue
        own = child_group(path, group, "vars")
        name = own.attrs.get("name", key) if own is not None else key
        name = name.decode() if isinstance(name, bytes) else str(name)
        entries = [Entry(f"layers/{key}/{sub}", sub, shape) for sub, shape in group_datasets(path, group, "", budget)]
        if entries:
            source.layers[name] = entries
    return source


def group_names(path: Path, group) -> list[str]:
    """A group's member names, refusing soft and external links (they reach outside what we read)."""
    h5py = _h5py()

    names = list(group.keys())
    for name in names:
        link = group.get(name, getlink=True)
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            what = "an external link to another file" if isinstance(link, h5py.ExternalLink) else "a soft link"
            raise WeightsError(f"{path}: {group.name.rstrip('/')}/{name} is {what}: refused")
    return names


def child_group(path: Path, parent, name: str, required: bool = False):
    """The group ``name`` below ``parent`` (None when absent or not a group), refusing a soft or external link
    there. Only this one link is looked at: listing every sibling for each lookup made reading a file with
    hundreds of layers quadratic."""
    h5py = _h5py()

    link = parent.get(name, getlink=True)
    if link is None:
        if required:
            raise WeightsError(f"{path}: no '{name}' group: not a weights file written by Keras 3")
        return None
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        what = "an external link to another file" if isinstance(link, h5py.ExternalLink) else "a soft link"
        raise WeightsError(f"{path}: {parent.name.rstrip('/')}/{name} is {what}: refused")
    item = parent[name]
    return item if isinstance(item, h5py.Group) else None


def _order(name: str) -> tuple:
    if name == "vars":
        return (0, 0, "")
    if name.isdigit():
        return (1, int(name), "")
    return (2, _SUBLAYER_ORDER.get(name, 99), name)


def group_datasets(path: Path, group, prefix: str, budget: list) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Yield (relative path, shape) of every dataset below ``group``, in Keras's variable order, checking each."""
    h5py = _h5py()

    for name in sorted(group_names(path, group), key=_order):
        budget[0] -= 1
        if budget[0] < 0:
            raise WeightsError(f"{path}: more than {MAX_OBJECTS:,} HDF5 objects: refused")
        item = group[name]
        if isinstance(item, h5py.Group):
            yield from group_datasets(path, item, f"{prefix}{name}/", budget)
        elif isinstance(item, h5py.Dataset):
            _check_dataset(path, item, budget)
            yield f"{prefix}{name}", tuple(int(d) for d in item.shape)


def _check_dataset(path: Path, dataset, budget: list) -> None:
    """Refuse datasets that are not plain numbers in this file, or whose declared size the file cannot hold."""
    where = dataset.name
    if dataset.dtype.kind not in "fiub":
        raise WeightsError(f"{path}: {where} holds {dataset.dtype} values, not numbers: refused")
    if dataset.external or getattr(dataset, "is_virtual", False):
        raise WeightsError(f"{path}: {where} stores its data in another file (external or virtual dataset): refused")
    declared = math.prod(dataset.shape or ()) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    budget[1] -= declared
    if declared > MAX_RATIO * max(stored, 1) or budget[1] < 0:
        raise WeightsError(
            f"{path}: {where} declares {declared:,} bytes ({show_value(list(dataset.shape))}) but "
            f"stores {stored:,}: refused"
        )


def _npz_source(path: Path, archive: zipfile.ZipFile) -> Source:
    """Index an .npz: members ``layer/variable.npy``, each checked by ``archives.npy_members`` (sizes, header)."""
    _numpy()  # a clear error when NumPy is missing
    source = Source(path, "npz", named=True)
    for item in archives.npy_members(path, archive, REFUSAL):
        layer, _, variable = item.key.partition("/")
        if not variable:
            raise WeightsError(f"{path}: key {item.key!r} is not of the form layer/variable (e.g. hidden1/kernel)")
        if item.dtype.kind not in "fiub":
            raise WeightsError(f"{path}: {item.key} holds {item.dtype} values, not numbers: refused (no pickles)")
        source.layers.setdefault(layer, []).append(Entry(item.info.filename, variable, item.shape))
    return source


def read(source: Source, handle, layer: str) -> list:
    """Read the arrays of one source layer, in the order of its entries."""
    np = _numpy()

    if source.kind == "npz":
        arrays = []
        for entry in source.layers[layer]:
            with archives.guarded(str(source.path), REFUSAL), handle.open(entry.key) as member:
                arrays.append(np.lib.format.read_array(member, allow_pickle=False))
        return arrays
    with archives.guarded(str(source.path), REFUSAL):
        return [handle[entry.key][()] for entry in source.layers[layer]]
