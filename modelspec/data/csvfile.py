"""CSV files: a header line, numeric feature columns for the spec's one input, one target column per output.

The target is the `target` argument (``--target``), else the spec's `data.target`, else the last column; the features
are the spec's `data.features`, else every other column. A target column may hold text (class names): its values are
then mapped to 0..k-1 in sorted order, and the names kept in ``class_names``.
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from modelspec.analysis.shapes import show_shape
from modelspec.data.common import Found, known_size, listing, numpy, text_allowed
from modelspec.diagnostics import did_you_mean
from modelspec.errors import DataError

if TYPE_CHECKING:
    from modelspec.loader import ModelSpec

SUGGEST_FROM = 10_000  # header names a "did you mean" looks through
Target = Optional[Union[str, list[str], tuple[str, ...]]]


def read_csv(path: Path, source: str, model: ModelSpec, target: Target = None, classes: Optional[dict] = None) -> Found:
    """Read a CSV file (or a gzip-compressed ``.csv.gz``) into the spec's input and outputs; text labels take the
    numbers of ``classes`` (per output, the training data's class names) when given."""
    np = numpy(source)
    inputs = list(model.analysis.inputs)
    if len(inputs) != 1:
        raise DataError(
            f"{source}: a CSV file feeds a model with one input, and this spec has {len(inputs)} "
            f"({', '.join(inputs)}): use an .npz file or a folder of .npy files"
        )
    try:
        with _open(path) as file:
            reader = csv.reader(file)
            table = _Table(source, _header(reader, source))
            targets = table.targets(model, target)
            features = table.features(model, targets)
            shape = _feature_shape(source, model, features)
            values, texts, lines = table.rows(reader, features, targets)
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{source}: not a readable CSV file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{source}: cannot read the file: {getattr(exc, 'strerror', None) or exc}") from None
    except zlib.error as exc:  # a .csv.gz whose deflate stream is damaged (gzip checks the CRC: an OSError)
        raise DataError(f"{source}: a damaged gzip stream: {exc}") from None

    found = Found(source, {}, {inputs[0]: f"columns {listing(features)}"}, lines=lines)
    found.arrays[inputs[0]] = np.array(values, dtype=np.float64).reshape((len(values), *shape))
    for output, column, cells in zip(model.analysis.outputs, targets, texts):
        found.described[output] = f"column '{column}'"
        found.arrays[output], names = _target_array(
            cells, lines, column, source, model.analysis.losses[output], (classes or {}).get(output)
        )
        if names is not None:
            found.class_names[output] = names
    return found


def _open(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # utf-8-sig: a spreadsheet's byte-order mark is no column name


def _header(reader: Any, source: str) -> list[str]:
    header = [name.strip() for name in next(reader, [])]
    line = reader.line_num
    if not any(header):
        raise DataError(f"{source}: the file is empty: a CSV file needs a header line naming its columns")
    if all(_is_number(name) for name in header):
        raise DataError(f"{source}: line {line} holds numbers, not column names: a CSV file needs a header line")
    seen: set[str] = set()  # linear in the columns: a header of a million columns is checked in a second
    for index, name in enumerate(header):
        if not name:
            raise DataError(f"{source}: column {index + 1} of the header has no name")
        if name in seen:
            raise DataError(f"{source}: column '{name}' appears twice in the header")
        seen.add(name)
    return header


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Table:
    """The header of a CSV file, and the columns chosen from it."""

    def __init__(self, source: str, header: list[str]):
        self.source, self.header = source, header
        self.index = {name: at for at, name in enumerate(header)}  # the names are unique (checked by _header)

    def column(self, name: str, role: str) -> int:
        if name not in self.index:
            raise DataError(
                f"{self.source}: the {role} column '{name}' is not in the header (columns: {listing(self.header)})"
                f"{did_you_mean(name, self._similar(name))}"
            )
        return self.index[name]

    def _similar(self, name: str) -> list[str]:
        """The names a suggestion is drawn from: all of them, or, in a header of more than ``SUGGEST_FROM`` columns,
        the first ``SUGGEST_FROM`` of about the same length (difflib is slow on a million names)."""
        if len(self.header) <= SUGGEST_FROM:
            return self.header
        return [other for other in self.header if abs(len(other) - len(name)) <= 2][:SUGGEST_FROM]

    def targets(self, model: ModelSpec, target: Target) -> list[str]:
        """One target column per output: the argument, else `data.target`, else the last column."""
        outputs = model.analysis.outputs
        chosen = target if target is not None else model.spec.data.target if model.spec.data else None
        if chosen is None and len(outputs) > 1:
            raise DataError(
                f"{self.source}: the spec has {len(outputs)} outputs ({', '.join(outputs)}): name one target column "
                f"per output in its data.target"
            )
        columns = [self.header[-1]] if chosen is None else [chosen] if isinstance(chosen, str) else list(chosen)
        if len(columns) != len(outputs):
            raise DataError(
                f"{self.source}: {len(columns)} target columns ({', '.join(columns)}) for {len(outputs)} "
                f"output{'s' if len(outputs) > 1 else ''} ({', '.join(outputs)}): give one target column per output"
            )
        for name in columns:
            self.column(name, "target")
        return columns

    def features(self, model: ModelSpec, targets: list[str]) -> list[str]:
        """The input's columns: `data.features`, else every column that is not a target."""
        chosen = model.spec.data.features if model.spec.data else None
        if chosen is None:
            chosen_targets = set(targets)
            columns = [name for name in self.header if name not in chosen_targets]
            if not columns:
                raise DataError(f"{self.source}: no feature columns: the header holds only the target")
            return columns
        chosen_targets = set(targets)
        for name in chosen:
            self.column(name, "feature")
            if name in chosen_targets:
                raise DataError(f"{self.source}: column '{name}' is both a feature and a target")
        return list(chosen)

    def rows(self, reader, features: list[str], targets: list[str]):
        """Parse every row: feature values as finite numbers, target cells as text (decided per column later)."""
        feature_at = [self.index[name] for name in features]
        target_at = [self.index[name] for name in targets]
        values: list[list[float]] = []
        texts: list[list[str]] = [[] for _ in targets]
        lines: list[int] = []
        for row in reader:
            if not row:
                continue  # a blank line
            line = reader.line_num
            if len(row) != len(self.header):
                raise DataError(f"{self.source}: line {line} has {len(row)} fields, the header {len(self.header)}")
            values.append([_number(row[at], self.source, line, self.header[at]) for at in feature_at])
            for cells, at in zip(texts, target_at):
                cells.append(row[at].strip())
            lines.append(line)
        return values, texts, lines


def _number(cell: str, source: str, line: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        problem = "empty cell" if not cell.strip() else f"{cell.strip()!r} is not a number"
        raise DataError(f"{source}: line {line}, column '{column}': {problem}") from None
    if not math.isfinite(value):
        raise DataError(f"{source}: line {line}, column '{column}': {cell.strip()!r} is not a finite number")
    return value


def _feature_shape(source: str, model: ModelSpec, features: list[str]) -> tuple:
    """The shape of one row's features: the input's shape, which must hold exactly that many values."""
    ((name, info),) = model.analysis.inputs.items()
    if info.shape == (None,):
        return (len(features),)
    if known_size(info.shape) != len(features):
        raise DataError(
            f"{source}: {len(features)} feature columns ({listing(features)}), but the input '{name}' takes "
            f"{show_shape(info.shape)}"
        )
    return info.shape


def _target_array(
    cells: list[str], lines: list[int], column: str, source: str, loss, known: Optional[list[str]] = None
) -> tuple[Any, Optional[list]]:
    """Numbers as integers when they are all whole (class labels), else float32; text as class numbers in the sorted
    order of the names (or the order of ``known``, the training data's), which are returned with them (None for
    numbers)."""
    np = numpy(source)
    numbers = []
    for cell, line in zip(cells, lines):
        try:
            numbers.append(float(cell))
        except ValueError:
            if not cell:
                raise DataError(f"{source}: line {line}, column '{column}': empty cell") from None
            if not text_allowed(loss):
                raise DataError(
                    f"{source}: line {line}, column '{column}': {cell!r} is not a number, and {loss.type} takes "
                    f"numeric targets"
                ) from None
            names = sorted(set(cells))
            if "" in names:
                line = lines[cells.index("")]
                raise DataError(f"{source}: line {line}, column '{column}': empty cell") from None
            return _class_numbers(cells, lines, column, source, known or names), known or names
        if not math.isfinite(numbers[-1]):
            raise DataError(f"{source}: line {line}, column '{column}': {cell!r} is not a finite number")
    array = np.array(numbers, dtype=np.float64)
    whole = np.all(array == np.floor(array)) and np.all(np.abs(array) < 2**53)
    return (array.astype(np.int64) if whole else array.astype(np.float32)), None


def _class_numbers(cells: list[str], lines: list[int], column: str, source: str, names: list[str]) -> Any:
    """Each text label's number: its place in ``names``; a label outside them is a DataError naming its line."""
    np = numpy(source)
    number_of = {name: index for index, name in enumerate(names)}
    for cell, line in zip(cells, lines):
        if cell not in number_of:
            raise DataError(
                f"{source}: line {line}, column '{column}': {cell!r} is not one of the classes the model was "
                f"trained on ({listing(names)})"
            )
    return np.array([number_of[cell] for cell in cells], dtype=np.int64)
