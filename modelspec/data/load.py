"""load_data: a data source (a bundled set's name, an .npz, a folder of .npy, a .csv) -> a checked Dataset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from modelspec.data.bundled import read_digits
from modelspec.data.checks import check
from modelspec.data.common import Found, numpy
from modelspec.data.csvfile import Target, read_csv
from modelspec.data.dataset import Dataset
from modelspec.data.files import read_folder, read_npz, single_npy
from modelspec.diagnostics import did_you_mean
from modelspec.errors import DataError
from modelspec.loader import ModelSpec, load_spec

BUNDLED = {"digits": read_digits}
FORMATS = "an .npz file, a folder of .npy files or a .csv file"


def load_data(
    source: Union[str, os.PathLike],
    model: ModelSpec,
    *,
    target: Target = None,
    what: str = "training data",
    classes: Optional[dict[str, list[str]]] = None,
) -> Dataset:
    """Read a data source and check it against a spec, without TensorFlow.

    Args:
        source: ``"digits"`` (the bundled set), or the path of an .npz file, of a folder of .npy files (memory-mapped,
            never loaded whole) or of a .csv file (also .csv.gz).
        model: the loaded spec (a path, YAML text or dict is loaded first).
        target: a CSV file's target column, or one per output; replaces the spec's `data.target`.
        what: what the data is for, in messages: "training data", "validation data", "evaluation data".
        classes: per output, the class names a CSV's text labels must use, in the order of their numbers (the
            training data's ``class_names``), so that validation and evaluation labels get the same numbers.

    Returns:
        The inputs keyed by the spec's input names and the targets by its output names, in the spec's order.

    Raises:
        DataError: the source is missing, unreadable or does not fit the spec; the message starts with the source.
        SpecError: ``model`` is a spec that does not load.
    """
    model = load_spec(model)
    name = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    numpy(name)
    found = _read(source, name, model, target, what, classes or {})
    size = check(found, model, what)
    return Dataset(
        inputs={input_name: found.arrays[input_name] for input_name in model.analysis.inputs},
        targets={output: found.arrays[output] for output in model.analysis.outputs if output in found.arrays},
        size=size,
        source=name,
        class_names={output: names for output, names in found.class_names.items() if output in found.arrays},
        memory_mapped=found.memory_mapped,
    )


def _read(
    source: Union[str, os.PathLike], name: str, model: ModelSpec, target: Target, what: str, classes: dict
) -> Found:
    if isinstance(source, str) and source in BUNDLED:
        _no_target(name, target)
        return BUNDLED[source](name, model)
    path = Path(source)
    if not path.exists():
        if not path.suffix and os.sep not in name and "/" not in name:
            raise DataError(
                f"{name}: no such file or folder for the {what}, and no bundled data set of that name "
                f"(bundled: {', '.join(BUNDLED)}){did_you_mean(name, BUNDLED)}"
            )
        raise DataError(f"{name}: no such file or folder for the {what}")
    if path.is_dir():
        _no_target(name, target)
        return read_folder(path, name, model)
    if not path.is_file():  # a FIFO would block the first read forever, a device never end
        raise DataError(f"{name}: not a regular file (a FIFO, a socket or a device) for the {what}: give {FORMATS}")
    suffix = path.name.lower()
    if suffix.endswith((".csv", ".csv.gz")):
        return read_csv(path, name, model, target, classes)
    _no_target(name, target)
    if suffix.endswith(".npz"):
        return read_npz(path, name, model)
    if suffix.endswith(".npy"):
        raise single_npy(name, model)
    raise DataError(f"{name}: not a data file modelspec reads: give {FORMATS}, or a bundled set (digits)")


def _no_target(name: str, target: Target) -> None:
    if target is not None:
        raise DataError(
            f"{name}: a target column belongs to a CSV file; arrays are named after the spec's inputs and outputs"
        )
