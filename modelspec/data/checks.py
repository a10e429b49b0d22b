"""Check found arrays against the spec before TensorFlow starts: types, shapes, lengths, values, labels and losses.

Each problem is a ``DataError`` whose message names the source, the array or column, and what would fit. Scans
read memory-mapped arrays block by block (``common.blocks``), never whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelspec.analysis.shapes import Shape, show_shape
from modelspec.data.common import Found, blocks, first_bad, fits, listing, numpy, text_allowed
from modelspec.errors import DataError
from modelspec.schema.training import BINARY, CATEGORICAL

if TYPE_CHECKING:
    from modelspec.loader import ModelSpec
    from modelspec.schema.training import Loss

# numpy has no bfloat16: such inputs get float32, which Keras casts as the model's input layer does.
_NUMPY_DTYPES = {"bfloat16": "float32"}


def check(found: Found, model: ModelSpec, what: str) -> int:
    """Check every array and cast in-memory ones to the dtypes the model takes; return the number of rows.

    Text labels of an output whose loss takes classes become class numbers (``found.class_names``) on the way.
    """
    np = numpy(found.source)
    for name in list(found.arrays):
        _check_type(found, name, model)
    for name, info in model.analysis.inputs.items():
        array = found.arrays[name]
        if not fits(array.shape[1:], info.shape):
            raise found.error(name, f"shape {array.shape}, but the input '{name}' takes {show_shape(info.shape)}")
    size = _check_lengths(found, model)
    if size == 0:
        raise DataError(f"{found.source}: the {what} is empty (0 rows)")
    for name, array in found.arrays.items():
        bad = first_bad(array, lambda block: ~np.isfinite(block)) if array.dtype.kind == "f" else None
        if bad is not None:
            value = "NaN" if np.isnan(bad[1]) else "infinity" if bad[1] > 0 else "-infinity"
            raise found.error(name, f"{value} at {found.where(name, bad[0])}")
    for name, info in model.analysis.inputs.items():
        _check_integers(found, name, info.dtype)
    for output, loss in model.analysis.losses.items():
        shape = model.analysis.layers[output].output_shape
        if loss is not None and output in found.arrays and shape is not None:
            _check_labels(found, output, loss, shape)
    _cast(found, model)
    return size


def _check_type(found: Found, name: str, model: ModelSpec) -> None:
    """Numbers only, one row per example; text labels of a classifier's output become class numbers."""
    np = numpy(found.source)
    array = found.arrays[name]
    if array.ndim == 0:
        raise found.error(name, "a single value (shape ()), not one row per example")
    kind = array.dtype.kind
    if kind in "biuf":
        return
    if kind not in "US":
        raise found.error(name, f"dtype {array.dtype}, which is not a number type: save integers or floats")
    if name in model.analysis.inputs:
        raise found.error(name, f"text (dtype {array.dtype}), and the input '{name}' takes numbers")
    loss = model.analysis.losses[name]
    if not text_allowed(loss):
        raise found.error(name, f"text (dtype {array.dtype}), and {loss.type} takes numeric targets")
    names, numbers = np.unique(np.asarray(array), return_inverse=True)
    found.class_names[name] = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]
    found.arrays[name] = numbers.reshape(array.shape).astype(np.int64)


def _check_lengths(found: Found, model: ModelSpec) -> int:
    order = [name for name in (*model.analysis.inputs, *model.analysis.outputs) if name in found.arrays]
    sizes = {name: len(found.arrays[name]) for name in order}
    if len(set(sizes.values())) > 1:
        parts = ", ".join(f"{found.described[name]} has {size} rows" for name, size in sizes.items())
        raise DataError(f"{found.source}: the arrays differ in length: {parts}")
    return next(iter(sizes.values()))


def _check_integers(found: Found, name: str, dtype: str) -> None:
    """An integer input (token ids) takes whole numbers within its type's range."""
    np = numpy(found.source)
    if dtype not in ("int32", "int64", "uint8"):
        return
    array = found.arrays[name]
    if array.dtype.kind == "f":
        bad = first_bad(array, lambda block: block != np.floor(block))
        if bad is not None:
            raise found.error(
                name,
                f"{bad[1]} at {found.where(name, bad[0])} is not a whole number, and the input '{name}' is {dtype}",
            )
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    bad = first_bad(array, lambda block: (block < low) | (block > high))
    if bad is not None:
        raise found.error(
            name,
            f"{bad[1]} at {found.where(name, bad[0])} is outside the range of the input '{name}' "
            f"({dtype}: {low} to {high})",
        )


def _cast(found: Found, model: ModelSpec) -> None:
    """In-memory features to their input's dtype, and targets to float32 unless they are class numbers (integers for
    a classification loss); memory maps stay as stored."""
    np = numpy(found.source)
    wanted = {name: np.dtype(_NUMPY_DTYPES.get(info.dtype, info.dtype)) for name, info in model.analysis.inputs.items()}
    for name, loss in model.analysis.losses.items():
        array = found.arrays.get(name)
        classes = array is not None and array.dtype.kind in "iu" and (loss is None or loss.kind == CATEGORICAL)
        wanted[name] = array.dtype if classes else np.dtype("float32")
    for name, array in found.arrays.items():
        if isinstance(array, np.memmap):
            continue  # cast per batch by the runtime: casting here would load the array whole
        dtype = wanted[name]
        if dtype.kind == "f" and array.dtype.kind == "f" and dtype.itemsize < array.itemsize:
            largest = np.finfo(dtype).max
            bad = first_bad(array, lambda block, largest=largest: np.abs(block) > largest)
            if bad is not None:
                raise found.error(name, f"{bad[1]} at {found.where(name, bad[0])} is too large for {dtype}")
        found.arrays[name] = array.astype(dtype, copy=False)


def _check_labels(found: Found, name: str, loss: Loss, shape: Shape) -> None:
    """Labels that fit the output and the loss: their shape, their encoding and their values."""
    if loss.kind == CATEGORICAL and loss.type.startswith("sparse_"):
        _sparse_labels(found, name, loss, shape)
    elif loss.kind == CATEGORICAL:
        _one_hot_labels(found, name, loss, shape)
    else:
        if not _same_shape(found.arrays[name].shape[1:], shape):
            raise found.error(name, _shape_problem(found, name, shape))
        if loss.kind == BINARY:
            _binary_labels(found, name, loss)


def _same_shape(row: Shape, output: Shape) -> bool:
    """A label per output value; one value per example also fits an output of one unit."""
    return fits(row, output) or (output[-1] == 1 and fits(row, output[:-1]))


def _shape_problem(found: Found, name: str, shape: Shape) -> str:
    return f"shape {found.arrays[name].shape}, but the output '{name}' gives {show_shape(shape)}"


def _sparse_labels(found: Found, name: str, loss: Loss, shape: Shape) -> None:
    array, units = found.arrays[name], shape[-1]
    row = array.shape[1:]
    if units is not None and units > 1 and fits(row, shape):
        raise found.error(
            name,
            f"one-hot labels (shape {array.shape}), but {loss.type} takes integer class labels: use "
            f"categorical_crossentropy, or integer labels",
        )
    if not (fits(row, shape[:-1]) or fits(row, (*shape[:-1], 1))):
        raise found.error(
            name, _shape_problem(found, name, shape) + f": {loss.type} takes labels of shape {show_shape(shape[:-1])}"
        )
    _class_numbers(found, name, loss, units)


def _class_numbers(found: Found, name: str, loss: Loss, units: Any) -> None:
    """Whole numbers from 0 to units - 1."""
    np = numpy(found.source)
    array = found.arrays[name]
    if array.dtype.kind == "f":
        bad = first_bad(array, lambda block: block != np.floor(block))
        if bad is not None:
            span = f" 0 to {units - 1}" if units is not None else ""
            raise found.error(
                name,
                f"{bad[1]} at {found.where(name, bad[0])} is not a class label: {loss.type} takes integer "
                f"class labels{span}",
            )
    bad = first_bad(array, lambda block: block < 0)
    if bad is not None:
        raise found.error(name, f"{bad[1]} at {found.where(name, bad[0])}: class labels start at 0")
    top = max(int(block.max()) for _, block in blocks(array))
    if units is not None and top >= units:
        names = found.class_names.get(name)
        classes = f"{len(names)} classes ({listing(names)})" if names else f"labels up to {top} ({top + 1} classes)"
        raise found.error(
            name,
            f"{classes}, but the output '{name}' has {units} units: give it {len(names or range(top + 1))} units, "
            f"or check the labels",
        )


def _one_hot_labels(found: Found, name: str, loss: Loss, shape: Shape) -> None:
    array, units = found.arrays[name], shape[-1]
    row = array.shape[1:]
    if fits(row, shape):
        _unit_interval(found, name, loss, "one-hot labels (or probabilities)")
        return
    if fits(row, shape[:-1]) or (units != 1 and fits(row, (*shape[:-1], 1))):
        width = f" of width {units}" if units is not None else ""
        raise found.error(
            name,
            f"one class label per example (shape {array.shape}), but {loss.type} takes one-hot labels: use "
            f"sparse_categorical_crossentropy, or one-hot labels{width}",
        )
    raise found.error(name, _shape_problem(found, name, shape))


def _binary_labels(found: Found, name: str, loss: Loss) -> None:
    names = found.class_names.get(name)
    if names is not None and len(names) > 2:
        raise found.error(name, f"{len(names)} classes ({listing(names)}), but {loss.type} takes two (labels 0 and 1)")
    _unit_interval(found, name, loss, "labels 0 or 1 (or probabilities)")


def _unit_interval(found: Found, name: str, loss: Loss, takes: str) -> None:
    bad = first_bad(found.arrays[name], lambda block: (block < 0) | (block > 1))
    if bad is not None:
        raise found.error(name, f"{bad[1]} at {found.where(name, bad[0])} is outside [0, 1]: {loss.type} takes {takes}")
