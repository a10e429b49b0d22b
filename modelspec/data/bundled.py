"""Data sets that ship inside the package, so that training works offline: ``digits``.

``digits``: the 1,797 8x8 handwritten digits of the UCI "Optical Recognition of Handwritten Digits" data set
(E. Alpaydin and C. Kaynak, CC BY 4.0; see modelspec/data/digits/README.md), as images of shape (8, 8, 1) with the
raw pixel values 0..16 (float32) and the digit as label (int64), in a fixed shuffled order (see ``_digits_table``).
"""

from __future__ import annotations

import gzip
import io
from importlib import resources
from typing import TYPE_CHECKING, Any

from modelspec.analysis.shapes import show_shape
from modelspec.data.common import Found, fits, known_size, numpy
from modelspec.errors import DataError

if TYPE_CHECKING:
    from modelspec.loader import ModelSpec

DIGITS_SHAPE = (8, 8, 1)


def read_digits(source: str, model: ModelSpec) -> Found:
    """The digits, keyed by the spec's one input and one output, the images reshaped to the input's shape."""
    np = numpy(source)
    inputs, outputs = list(model.analysis.inputs), model.analysis.outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise DataError(
            f"{source}: the digits are one input (8x8 images) and one output (the digit 0..9), and this spec has "
            f"{len(inputs)} input{'s' if len(inputs) > 1 else ''} and {len(outputs)} output"
            f"{'s' if len(outputs) > 1 else ''}"
        )
    (name,), (output,) = inputs, outputs
    table = _digits_table(np)
    shape = model.analysis.inputs[name].shape
    images = table[:, :64].astype(np.float32).reshape((-1, *DIGITS_SHAPE))
    if not fits(DIGITS_SHAPE, shape):
        if known_size(shape) != 64:
            raise DataError(
                f"{source}: the images are 8x8 (64 values), and the input '{name}' takes {show_shape(shape)}: give it "
                f"the shape [8, 8, 1], [8, 8] or [64]"
            )
        images = images.reshape((-1, *shape))
    labels = table[:, 64].astype(np.int64)
    return Found(source, {name: images, output: labels}, {name: "the images", output: "the labels"})


def _digits_table(np: Any) -> Any:
    """The 1,797 rows of 64 pixel values and a label, as integers, shuffled.

    In the file's order the last rows are much harder to predict from the first ones than a random sample is (most
    likely the rows come grouped by writer): a validation split, which takes the last rows, would measure accuracy
    on unseen writers (an MLP: about 0.92) instead of on a random fifth of the set (about 0.99). ``RandomState``'s
    stream is frozen across NumPy versions (NEP 19), so the order is the same everywhere.
    """
    packed = resources.files("modelspec.data").joinpath("digits").joinpath("digits.csv.gz").read_bytes()
    table = np.loadtxt(io.StringIO(gzip.decompress(packed).decode("ascii")), delimiter=",", dtype=np.int64)
    return table[np.random.RandomState(0).permutation(len(table))]
