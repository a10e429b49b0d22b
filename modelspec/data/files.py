"""NumPy files: an .npz archive read into memory, or a folder of .npy files memory-mapped; never unpickled.

Arrays are named after the spec's inputs and outputs (``image``, ``label``), or ``x`` and ``y`` when the spec has
one input and one output.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelspec import archives
from modelspec.data.common import Found, listing, numpy
from modelspec.diagnostics import did_you_mean
from modelspec.errors import DataError

if TYPE_CHECKING:
    from modelspec.loader import ModelSpec

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive's first entry, or an empty archive
_REFUSAL = archives.plain(DataError)


def accepted_names(model: ModelSpec) -> dict[str, list[str]]:
    """The names an array may have in a file, for each of the spec's inputs and outputs (inputs first).

    ``x`` and ``y`` stand for the input and the output of a spec with one of each, unless the spec itself uses
    those names the other way round.
    """
    inputs, outputs = list(model.analysis.inputs), list(model.analysis.outputs)
    if len(inputs) == 1 and len(outputs) == 1 and inputs[0] != "y" and outputs[0] != "x":
        return {inputs[0]: list(dict.fromkeys(["x", inputs[0]])), outputs[0]: list(dict.fromkeys(["y", outputs[0]]))}
    return {name: [name] for name in inputs + outputs}


def single_npy(source: str, model: ModelSpec) -> DataError:
    """The error for an .npy file given alone: one array cannot hold both features and labels."""
    files = ", ".join(f"{names[0]}.npy" for names in accepted_names(model).values())
    return DataError(
        f"{source}: a single .npy file holds one array: give a folder of .npy files named after the spec's inputs "
        f"and outputs ({files}), or an .npz file"
    )


def read_npz(path: Path, source: str, model: ModelSpec) -> Found:
    """Read every array of an .npz archive into memory (``allow_pickle=False``), after the guards every ``.npz`` and
    zip archive gets (modelspec/archives.py: the members' sizes, then each ``.npy`` header, before allocating)."""
    numpy(source)
    try:
        with open(path, "rb") as file:
            magic = file.read(4)
    except OSError as exc:
        raise DataError(f"{source}: cannot read the file: {exc.strerror or exc}") from None
    if magic not in _ZIP_MAGIC:
        raise DataError(f"{source}: not an .npz file (a zip archive of .npy files, as numpy.savez writes)")

    def refusal(where: str, why: str) -> DataError:  # named as the person wrote it, not as resolved
        return DataError(f"{source}: {why}")

    with (
        archives.guarded(source, refusal, "not a readable .npz file"),
        archives.open_zip(path, refusal, "an .npz file") as archive,
    ):
        members = archives.npy_members(path, archive, refusal)
        arrays = {item.key: _member(path, archive, item, refusal) for item in members}
    if not arrays:
        raise DataError(f"{source}: the archive holds no arrays")
    return _assign(arrays, source, model, memory_mapped=False)


def _member(path: Path, archive: zipfile.ZipFile, item: archives.NpyMember, refusal: archives.Refusal) -> Any:
    if item.dtype.hasobject:
        raise refusal(str(path), _objects_text(item.key))
    return archives.read_npy(path, archive, item, refusal)


def _objects(source: str, name: str) -> DataError:
    return DataError(f"{source}: {_objects_text(name)}")


def _objects_text(name: str) -> str:
    return (
        f"array '{name}': Python objects (dtype object), which modelspec never unpickles: save numbers "
        f"(or text labels) as a plain NumPy array"
    )


def read_folder(path: Path, source: str, model: ModelSpec) -> Found:
    """Memory-map every .npy file of a folder (``mmap_mode="r"``, ``allow_pickle=False``): nothing is loaded."""
    np = numpy(source)
    files = sorted(p for p in path.iterdir() if p.suffix == ".npy" and p.is_file())
    if not files:
        names = ", ".join(f"{names[0]}.npy" for names in accepted_names(model).values())
        raise DataError(
            f"{source}: no .npy files in the folder: name them after the spec's inputs and outputs ({names})"
        )
    arrays = {file.stem: _map_npy(np, file, os.path.join(source, file.name)) for file in files}
    return _assign(arrays, source, model, memory_mapped=True)


def _map_npy(np: Any, file: Path, where: str) -> Any:
    """Memory-map one .npy file, after checking that its header is sound and its data all there."""
    shape, dtype, start = _npy_header(np, file, where)
    if dtype.hasobject:
        raise _objects(where, file.stem)
    expected = start + dtype.itemsize * math.prod(shape)
    with archives.guarded(where, _REFUSAL, "not a readable .npy file"):
        size = file.stat().st_size
        if size < expected:
            raise DataError(f"{where}: truncated: its header announces {expected:,} bytes, and the file holds {size:,}")
        return np.load(file, mmap_mode="r", allow_pickle=False)


def _npy_header(np: Any, file: Path, where: str) -> tuple:
    """An .npy file's shape, dtype and data offset; a file that cannot be read (a link to /proc/self/mem, a file
    that vanished) or whose header is broken is refused through ``archives.guarded``."""
    with archives.guarded(where, _REFUSAL, "cannot read the file"), open(file, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise DataError(f"{where}: not a regular file")
        if stream.read(6) != archives.NPY_MAGIC:
            raise DataError(f"{where}: not an .npy file (it does not start with NumPy's magic string)")
        stream.seek(0)
        with archives.guarded(where, _REFUSAL, "not a readable .npy file"):
            version = np.lib.format.read_magic(stream)
            reader = archives.NPY_HEADERS.get(version)
            if reader is None:
                raise DataError(f"{where}: not a readable .npy file: unknown .npy format version {version}")
            shape, _, dtype = getattr(np.lib.format, reader)(stream)
        return shape, dtype, stream.tell()


def _assign(arrays: dict[str, Any], source: str, model: ModelSpec, *, memory_mapped: bool) -> Found:
    """Key the arrays by the spec's names: every array must feed an input or an output, and every input needs one."""
    accepted = accepted_names(model)
    owner = {alias: name for name, aliases in accepted.items() for alias in aliases}
    expected = [alias for aliases in accepted.values() for alias in aliases]
    for key in arrays:
        if key not in owner:
            raise DataError(
                f"{source}: unknown array '{key}' (expected: {listing(expected)}){did_you_mean(key, expected)}"
            )
    file_names: dict[str, str] = {}
    for key in arrays:
        name = owner[key]
        if name in file_names:
            role = "input" if name in model.analysis.inputs else "output"
            raise DataError(
                f"{source}: arrays '{file_names[name]}' and '{key}' both feed the {role} '{name}': keep one"
            )
        file_names[name] = key
    _check_missing(accepted, file_names, source, model)
    return Found(
        source,
        {name: arrays[key] for name, key in file_names.items()},
        {name: f"array '{key}'" for name, key in file_names.items()},
        memory_mapped=memory_mapped,
        file_names=file_names,
    )


def _check_missing(accepted: dict[str, list[str]], present: dict[str, str], source: str, model: ModelSpec) -> None:
    outputs = model.analysis.outputs
    no_labels = model.spec.training is None and not any(name in present for name in outputs)
    for name, aliases in accepted.items():
        if name in present or (no_labels and name in outputs):
            continue  # without `training:` the data may hold no labels at all (to predict, say)
        role = "input" if name in model.analysis.inputs else "output"
        raise DataError(
            f"{source}: no array for the {role} '{name}': name it {' or '.join(aliases)} "
            f"(found: {listing(sorted(present.values()))})"
        )
