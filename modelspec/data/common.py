"""What every reader shares: NumPy imported on demand, the arrays found in a source, and facts about the spec."""

from __future__ import annotations

import math
import mmap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from modelspec.analysis.shapes import Shape
from modelspec.errors import DataError
from modelspec.schema.training import BINARY, CATEGORICAL, Loss

BLOCK_BYTES = 32 * 2**20  # scans read this much at a time, so a memory-mapped array is never loaded whole


def numpy(source: str) -> Any:
    """Import NumPy, which reading data needs and `modelspec lint` does not."""
    try:
        import numpy
    except ImportError as exc:
        raise DataError(
            f"{source}: reading data needs NumPy, which did not import ({exc}): install it with "
            f"pip install 'modelspec[tf]'"
        ) from exc
    return numpy


@dataclass
class Found:
    """The arrays a source holds, keyed by the spec's input and output names, before they are checked.

    ``described`` says how messages name each array ("array 'x'", "column 'species'"); ``lines`` holds, for a CSV
    file, the line each row came from, so that messages point into the file; ``file_names`` the name an array has in
    its file, where that differs from the spec's name (``x`` for the input ``input``).
    """

    source: str
    arrays: dict[str, Any]
    described: dict[str, str]
    class_names: dict[str, list[str]] = field(default_factory=dict)
    memory_mapped: bool = False
    lines: Optional[list[int]] = None
    file_names: dict[str, str] = field(default_factory=dict)

    def where(self, name: str, row: int) -> str:
        """Name a row of an array as the person can find it: a line of the CSV file, or an index."""
        if self.lines is not None:
            return f"line {self.lines[row]}"
        if name in self.file_names:
            return f"row {row} ({self.file_names[name]}[{row}])"
        return f"row {row}"

    def error(self, name: str, problem: str) -> DataError:
        """A ``DataError`` about one array: ``source: array 'x': problem`` (its ``array``: the spec's name)."""
        error = DataError(f"{self.source}: {self.described[name]}: {problem}")
        error.array = name
        return error


def listing(names: Sequence[str], limit: int = 8) -> str:
    """``a, b, c``, shortened to the first ``limit`` names and a count when there are more."""
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names)} in all)"


def fits(shape: Shape, wanted: Shape) -> bool:
    """Whether an array's row shape is the shape a spec asks for (``None`` there matches any length)."""
    return len(shape) == len(wanted) and all(w is None or s == w for s, w in zip(shape, wanted))


def known_size(shape: Shape) -> Optional[int]:
    """The number of values a shape holds, or None when a dimension is variable."""
    return None if any(d is None for d in shape) else math.prod(shape)


def text_allowed(loss: Optional[Loss]) -> bool:
    """Whether text labels (mapped to class numbers) make sense for an output: classes yes, real values no."""
    return loss is None or loss.kind in (CATEGORICAL, BINARY)


def blocks(array: Any) -> Iterator[tuple[int, Any]]:
    """Yield ``(first row, rows)`` blocks of about ``BLOCK_BYTES`` each.

    A memory-mapped array as ``numpy.load`` opens it is read with plain file reads instead of through the mapping:
    pages touched through a mapping stay in the process's resident memory, and a scan of a file larger than memory
    would then look like loading it whole.
    """
    np = numpy("")
    rest = array.shape[1:]
    row_bytes = max(1, array.itemsize * math.prod(rest))
    step = max(1, BLOCK_BYTES // row_bytes)
    whole_mapping = isinstance(array, np.memmap) and isinstance(array.base, mmap.mmap)
    if not (whole_mapping and array.filename and array.flags.c_contiguous):
        for start in range(0, len(array), step):
            yield start, array[start : start + step]
        return
    with open(array.filename, "rb") as file:
        file.seek(array.offset)
        for start in range(0, len(array), step):
            count = min(step, len(array) - start)
            block = np.fromfile(file, dtype=array.dtype, count=count * math.prod(rest))
            yield start, block.reshape((count, *rest))


def first_bad(array: Any, bad) -> Optional[tuple[int, Any]]:
    """The first row where ``bad(block)`` (an element-wise test) holds anywhere, and the first such value."""
    np = numpy("")
    for start, block in blocks(array):
        mask = np.asarray(bad(block))
        rows = mask.reshape(len(block), -1).any(axis=1)
        if rows.any():
            row = int(rows.argmax())
            return start + row, np.asarray(block[row])[mask[row]].flat[0]
    return None
