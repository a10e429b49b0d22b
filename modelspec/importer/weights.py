"""Weights for an imported spec: a `.weights.h5` keyed by the spec's layer names (h5py and NumPy, no Keras).

From a `.keras` archive, the ``model.weights.h5`` member is opened with the guards of
``modelspec.pretrained.files`` (links, external storage, absurd declared sizes and zip bombs are refused before
anything is read). When every layer keeps its Keras name, the member is written as it is; when nested models
were flattened (Keras stores their layers below the nested model's group), the file written has one group per
layer of the flat spec, ``layers/<name>/vars/<i>``. modelspec's loader reads either by layer name.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from modelspec import archives
from modelspec.atomic import replacing
from modelspec.errors import WeightsError
from modelspec.importer.problems import refused
from modelspec.pretrained import files

Arrays = dict[str, list[tuple[str, object]]]  # spec layer -> [(variable path below the layer, array)]


@dataclass(frozen=True)
class Verbatim:
    """An archive whose weights member is written as is: every layer keeps its Keras name (no nested model was
    flattened), so modelspec's loader reads the member exactly as Keras wrote it."""

    archive: Path
    values: int


def archive_arrays(path: Path, layers: Iterable[tuple[str, tuple[str, ...]]]) -> Union[Arrays, Verbatim]:
    """Read the arrays of each (spec name, Keras origin) layer from a `.keras` archive's weights (checked with
    the guards of pretrained weights), or, when every layer keeps its name, only check and count them."""
    layers = list(layers)
    with tempfile.TemporaryDirectory(prefix="modelspec-import-") as folder:  # removed on SIGTERM too (cli.main)
        member = Path(folder) / files.KERAS_MEMBER
        try:
            _extract(path, member)
            with files.open_source(member) as (source, h5), archives.guarded(str(member), files.REFUSAL):
                # Verbatim unless names changed, or the member carries more than the layers (optimizer state).
                if all(origin == (name,) for name, origin in layers) and set(files.group_names(member, h5)) <= {
                    "layers",
                    "vars",
                }:
                    values = sum(math.prod(e.shape) for entries in source.layers.values() for e in entries)
                    return Verbatim(path, values)
                return _arrays(member, h5, layers)
        except WeightsError as exc:
            text = str(exc).removeprefix(f"{path}: ").replace(str(member), f"{path}:{files.KERAS_MEMBER}")
            raise refused(str(path), f"its weights: {text}") from None


def _extract(path: Path, target: Path) -> None:
    """Copy the archive's weights member to ``target`` (h5py reads a real file far faster than a zip stream),
    after the size checks and the HDF5 signature, never more bytes than it declares (``archives.copy_member``)."""
    with archives.open_zip(path, files.REFUSAL, "a .keras file") as archive:
        info = files.archive_member(path, archive, files.KERAS_MEMBER)
        archives.copy_member(path, archive, info, target, files.REFUSAL)


def _arrays(path: Path, h5, layers) -> Arrays:
    groups = _groups(path, h5)
    arrays: Arrays = {}
    budget = [files.MAX_OBJECTS, files.MAX_RATIO * max(path.stat().st_size, 1)]
    for name, origin in layers:
        group = groups.get(origin)
        if group is None:
            continue
        found = [
            (relative, group[relative][()])
            for relative, _ in files.group_datasets(path, group, "", budget)
            if not relative.startswith("layers/")
        ]
        if found:
            arrays[name] = found
    return arrays


def _groups(path: Path, h5) -> dict[tuple[str, ...], object]:
    """Each layer group of a Keras 3 weights file by its names from the outer model down (``vars`` names it)."""
    found: dict[tuple[str, ...], object] = {}

    def walk(parent, origin: tuple[str, ...]) -> None:
        layers = files.child_group(path, parent, "layers")
        if layers is None:
            return
        for key in files.group_names(path, layers):
            group = files.child_group(path, layers, key)
            if group is None:
                continue
            own = files.child_group(path, group, "vars")
            name = own.attrs.get("name", key) if own is not None else key
            name = name.decode() if isinstance(name, bytes) else str(name)
            found[(*origin, name)] = group
            walk(group, (*origin, name))

    walk(h5, ())
    return found


def count(arrays: Union[Arrays, Verbatim]) -> int:
    """The number of values in ``arrays`` (the parameter count Keras reports)."""
    if isinstance(arrays, Verbatim):
        return arrays.values
    return sum(math.prod(array.shape) for items in arrays.values() for _, array in items)


def write(path: Path, arrays: Union[Arrays, Verbatim]) -> None:
    """Write ``arrays`` as a Keras 3 weights file, atomically (a temporary file, then one rename)."""
    if isinstance(arrays, Verbatim):
        with replacing(path, ".h5") as temporary:
            _extract(arrays.archive, Path(temporary))
        return
    import h5py

    with replacing(path, ".h5") as temporary, h5py.File(temporary, "w") as h5:
        layers = h5.create_group("layers")
        for name, items in arrays.items():
            group = layers.create_group(name)
            group.create_group("vars").attrs["name"] = name
            for relative, array in items:
                group.create_dataset(relative, data=array)
        h5.create_group("vars")
