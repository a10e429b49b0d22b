"""modelspec.data: every source (.npz, a folder of .npy, .csv, the bundled digits) and the golden text of every data
error, checked before TensorFlow starts.

Each error case writes its files into a fresh folder and loads them from there by a relative path, so the message
starts with that path, exactly as the person typed it. The module needs NumPy, which comes with the [tf] extra.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from modelspec import load_spec
from modelspec.data import Dataset, load_data
from modelspec.data import common as data_common
from modelspec.errors import DataError

pytestmark = pytest.mark.tensorflow  # NumPy: the nox sessions without the [tf] extra have none

ROOT = Path(__file__).resolve().parents[1]
ROWS = 5


def single(shape=(4,), units=3, activation="softmax", loss="sparse_categorical_crossentropy", **top) -> dict:
    """A spec with one input (`input`) and one output (the dense layer, `dense`)."""
    spec = {
        "modelspec": 1,
        "seed": 1,
        "input": {"shape": list(shape)},
        "layers": [{"type": "flatten"}] if len(shape) > 1 else [],
        "training": {"optimizer": "adam", "loss": loss},
        **top,
    }
    spec["layers"].append({"type": "dense", "units": units, "activation": activation})
    if loss is None:
        del spec["training"]
    return spec


MULTI = {
    "modelspec": 1,
    "inputs": [{"name": "image", "shape": [4, 4, 1]}, {"name": "features", "shape": [3]}],
    "layers": [
        {"type": "flatten", "name": "flat", "inputs": ["image"]},
        {"type": "concatenate", "name": "joined", "inputs": ["flat", "features"]},
        {"type": "dense", "name": "label", "units": 3, "activation": "softmax"},
        {"type": "dense", "name": "price", "units": 1, "inputs": ["joined"]},
    ],
    "outputs": ["label", "price"],
    "training": {"optimizer": "adam", "loss": ["sparse_categorical_crossentropy", "mse"]},
}


def features(rows=ROWS, width=4, dtype=np.float32):
    return np.arange(rows * width, dtype=dtype).reshape(rows, width) / 10


def labels(rows=ROWS, classes=3):
    return np.arange(rows) % classes


def npz(name="data.npz", **arrays):
    def write(folder: Path) -> str:
        np.savez(folder / name, **arrays)
        return name

    return write


def npy_folder(name="data", **arrays):
    def write(folder: Path) -> str:
        (folder / name).mkdir()
        for key, array in arrays.items():
            np.save(folder / name / f"{key}.npy", array)
        return name

    return write


def text(name: str, content):
    def write(folder: Path) -> str:
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, encoding="utf-8")
        return name

    return write


def with_value(array, index, value):
    array = np.array(array, dtype=np.float64)
    array[index] = value
    return array


def corrupt_member(folder: Path) -> str:
    """An .npz whose stored array fails its CRC check (a byte flipped inside the data)."""
    np.savez(folder / "data.npz", x=np.zeros((100, 4)), y=labels(100))
    raw = bytearray((folder / "data.npz").read_bytes())
    with zipfile.ZipFile(folder / "data.npz") as archive:
        info = archive.getinfo("x.npy")
    raw[info.header_offset + 30 + len("x.npy") + 200] ^= 0xFF  # past the local header, inside the array data
    (folder / "data.npz").write_bytes(bytes(raw))
    return "data.npz"


def truncated_npz(folder: Path) -> str:
    np.savez(folder / "data.npz", x=features(100), y=labels(100))
    raw = (folder / "data.npz").read_bytes()
    (folder / "data.npz").write_bytes(raw[: len(raw) // 2])
    return "data.npz"


def truncated_npy(folder: Path) -> str:
    npy_folder(x=features(100), y=labels(100))(folder)
    raw = (folder / "data" / "x.npy").read_bytes()
    (folder / "data" / "x.npy").write_bytes(raw[:1000])
    return "data"


def object_npy(folder: Path) -> str:
    (folder / "data").mkdir()
    np.save(folder / "data" / "x.npy", np.array([[1, "a"]] * ROWS, dtype=object), allow_pickle=True)
    np.save(folder / "data" / "y.npy", labels())
    return "data"


CSV = "a,b,c,d,label\n" + "".join(f"{i},{i + 1},{i + 2},{i + 3},{i % 3}\n" for i in range(ROWS))

CASES = {
    # --- where the data is -------------------------------------------------------------------------------
    "missing_file": (
        single(),
        lambda folder: "missing.npz",
        "missing.npz: no such file or folder for the training data",
    ),
    "unknown_data_name": (
        single(),
        lambda folder: "digts",
        "digts: no such file or folder for the training data, and no bundled data set of that name (bundled: "
        "digits); did you mean 'digits'?",
    ),
    "single_npy": (
        single(),
        lambda folder: (np.save(folder / "x.npy", features()), "x.npy")[1],
        "x.npy: a single .npy file holds one array: give a folder of .npy files named after the spec's inputs and "
        "outputs (x.npy, y.npy), or an .npz file",
    ),
    "unsupported_suffix": (
        single(),
        text("data.txt", "1 2 3\n"),
        "data.txt: not a data file modelspec reads: give an .npz file, a folder of .npy files or a .csv file, or a "
        "bundled set (digits)",
    ),
    "empty_folder": (
        MULTI,
        lambda folder: ((folder / "data").mkdir(), "data")[1],
        "data: no .npy files in the folder: name them after the spec's inputs and outputs (image.npy, features.npy, "
        "label.npy, price.npy)",
    ),
    # --- unreadable files ----------------------------------------------------------------------------------
    "not_a_zip": (
        single(),
        text("data.npz", b"hello, world"),
        "data.npz: not an .npz file (a zip archive of .npy files, as numpy.savez writes)",
    ),
    "truncated_npz": (
        single(),
        truncated_npz,
        "data.npz: a damaged or truncated zip archive (File is not a zip file)",
    ),
    "corrupt_npz_member": (
        single(),
        corrupt_member,
        "data.npz: member 'x.npy' is unreadable: corrupt archive (Bad CRC-32 for file 'x.npy')",
    ),
    "truncated_npy": (
        single(),
        truncated_npy,
        "data/x.npy: truncated: its header announces 1,728 bytes, and the file holds 1,000",
    ),
    "not_an_npy": (
        single(),
        lambda folder: (npy_folder(y=labels())(folder), (folder / "data" / "x.npy").write_text("1,2,3"), "data")[-1],
        "data/x.npy: not an .npy file (it does not start with NumPy's magic string)",
    ),
    "object_array_npz": (
        single(),
        lambda folder: (
            np.savez(folder / "data.npz", x=np.array([[1, "a"]] * ROWS, dtype=object), y=labels()),
            "data.npz",
        )[1],
        "data.npz: array 'x': Python objects (dtype object), which modelspec never unpickles: save numbers (or text "
        "labels) as a plain NumPy array",
    ),
    "object_array_npy": (
        single(),
        object_npy,
        "data/x.npy: array 'x': Python objects (dtype object), which modelspec never unpickles: save numbers (or "
        "text labels) as a plain NumPy array",
    ),
    # --- array names ---------------------------------------------------------------------------------------
    "missing_array": (
        single(),
        npz(x=features()),
        "data.npz: no array for the output 'dense': name it y or dense (found: x)",
    ),
    "missing_input_array": (
        MULTI,
        npz(features=features(width=3), label=labels(), price=features(width=1)),
        "data.npz: no array for the input 'image': name it image (found: features, label, price)",
    ),
    "unknown_array": (
        MULTI,
        npz(image=np.zeros((ROWS, 4, 4, 1)), features=features(width=3), lable=labels(), price=features(width=1)),
        "data.npz: unknown array 'lable' (expected: image, features, label, price); did you mean 'label'?",
    ),
    "unknown_array_single": (
        single(),
        npz(x=features(), y=labels(), weights=labels()),
        "data.npz: unknown array 'weights' (expected: x, input, y, dense)",
    ),
    "two_names_for_one_input": (
        single(),
        npz(x=features(), input=features(), y=labels()),
        "data.npz: arrays 'x' and 'input' both feed the input 'input': keep one",
    ),
    # --- types, shapes, lengths, values --------------------------------------------------------------------
    "input_shape": (
        single(),
        npz(x=features(width=3), y=labels()),
        "data.npz: array 'x': shape (5, 3), but the input 'input' takes (None, 4)",
    ),
    "input_rank": (
        single(shape=(4, 4, 1)),
        npz(x=np.zeros((ROWS, 4, 4)), y=labels()),
        "data.npz: array 'x': shape (5, 4, 4), but the input 'input' takes (None, 4, 4, 1)",
    ),
    "scalar_array": (
        single(),
        npz(x=np.float32(1.0), y=labels()),
        "data.npz: array 'x': a single value (shape ()), not one row per example",
    ),
    "text_features": (
        single(),
        npz(x=np.array([["a"] * 4] * ROWS), y=labels()),
        "data.npz: array 'x': text (dtype <U1), and the input 'input' takes numbers",
    ),
    "complex_features": (
        single(),
        npz(x=features().astype(np.complex64), y=labels()),
        "data.npz: array 'x': dtype complex64, which is not a number type: save integers or floats",
    ),
    "different_lengths": (
        single(),
        npz(x=features(), y=labels(ROWS - 1)),
        "data.npz: the arrays differ in length: array 'x' has 5 rows, array 'y' has 4 rows",
    ),
    "empty": (
        single(),
        npz(x=np.zeros((0, 4)), y=np.zeros(0, dtype=np.int64)),
        "data.npz: the training data is empty (0 rows)",
    ),
    "nan": (
        single(),
        npz(x=with_value(features(), (3, 1), np.nan), y=labels()),
        "data.npz: array 'x': NaN at row 3 (x[3])",
    ),
    "infinity_in_targets": (
        single(units=1, activation="linear", loss="mse"),
        npz(x=features(), y=with_value(np.zeros(ROWS), 2, -np.inf)),
        "data.npz: array 'y': -infinity at row 2 (y[2])",
    ),
    "nan_memory_mapped": (
        single(),
        npy_folder(x=with_value(np.zeros((4000, 4)), (3999, 0), np.nan), y=labels(4000)),
        "data: array 'x': NaN at row 3999 (x[3999])",
    ),
    "token_ids_not_whole": (
        {**single(), "input": {"shape": [4], "dtype": "int32"}},
        npz(x=with_value(np.ones((ROWS, 4)), (1, 2), 1.5), y=labels()),
        "data.npz: array 'x': 1.5 at row 1 (x[1]) is not a whole number, and the input 'input' is int32",
    ),
    "uint8_out_of_range": (
        {**single(), "input": {"shape": [4], "dtype": "uint8"}},
        npz(x=with_value(np.zeros((ROWS, 4)), (2, 0), 300), y=labels()),
        "data.npz: array 'x': 300.0 at row 2 (x[2]) is outside the range of the input 'input' (uint8: 0 to 255)",
    ),
    "too_large_for_float32": (
        single(),
        npz(x=with_value(features(), (4, 3), 1e300), y=labels()),
        "data.npz: array 'x': 1e+300 at row 4 (x[4]) is too large for float32",
    ),
    # --- labels against the output and the loss ------------------------------------------------------------
    "integer_labels_categorical": (
        single(loss="categorical_crossentropy"),
        npz(x=features(), y=labels()),
        "data.npz: array 'y': one class label per example (shape (5,)), but categorical_crossentropy takes one-hot "
        "labels: use sparse_categorical_crossentropy, or one-hot labels of width 3",
    ),
    "too_many_classes": (
        single(units=10),
        npz(x=features(12), y=np.arange(12)),
        "data.npz: array 'y': labels up to 11 (12 classes), but the output 'dense' has 10 units: give it 12 units, "
        "or check the labels",
    ),
    "one_hot_sparse": (
        single(),
        npz(x=features(), y=np.eye(3)[labels()]),
        "data.npz: array 'y': one-hot labels (shape (5, 3)), but sparse_categorical_crossentropy takes integer class "
        "labels: use categorical_crossentropy, or integer labels",
    ),
    "sparse_labels_not_whole": (
        single(),
        npz(x=features(), y=with_value(labels(), 3, 0.5)),
        "data.npz: array 'y': 0.5 at row 3 (y[3]) is not a class label: sparse_categorical_crossentropy takes "
        "integer class labels 0 to 2",
    ),
    "negative_label": (
        single(),
        npz(x=features(), y=np.array([0, 1, -1, 2, 0])),
        "data.npz: array 'y': -1 at row 2 (y[2]): class labels start at 0",
    ),
    "sparse_labels_shape": (
        single(),
        npz(x=features(), y=np.zeros((ROWS, 2), dtype=np.int64)),
        "data.npz: array 'y': shape (5, 2), but the output 'dense' gives (None, 3): sparse_categorical_crossentropy "
        "takes labels of shape (None,)",
    ),
    "one_hot_width": (
        single(loss="categorical_crossentropy"),
        npz(x=features(), y=np.eye(4)[labels()]),
        "data.npz: array 'y': shape (5, 4), but the output 'dense' gives (None, 3)",
    ),
    "one_hot_values": (
        single(loss="categorical_crossentropy"),
        npz(x=features(), y=np.eye(3)[labels()] * 2),
        "data.npz: array 'y': 2.0 at row 0 (y[0]) is outside [0, 1]: categorical_crossentropy takes one-hot labels "
        "(or probabilities)",
    ),
    "binary_outside_unit_interval": (
        single(units=1, activation="sigmoid", loss="binary_crossentropy"),
        npz(x=features(), y=np.array([0, 2, 1, 0, 1])),
        "data.npz: array 'y': 2 at row 1 (y[1]) is outside [0, 1]: binary_crossentropy takes labels 0 or 1 (or "
        "probabilities)",
    ),
    "regression_shape": (
        single(units=1, activation="linear", loss="mse"),
        npz(x=features(), y=np.zeros((ROWS, 3))),
        "data.npz: array 'y': shape (5, 3), but the output 'dense' gives (None, 1)",
    ),
    "regression_text": (
        single(units=1, activation="linear", loss="mse"),
        npz(x=features(), y=np.array(["1", "2", "3", "4", "x"])),
        "data.npz: array 'y': text (dtype <U1), and mean_squared_error takes numeric targets",
    ),
    "multi_output_shape": (
        MULTI,
        npz(image=np.zeros((ROWS, 4, 4, 1)), features=features(width=3), label=labels(), price=features(width=2)),
        "data.npz: array 'price': shape (5, 2), but the output 'price' gives (None, 1)",
    ),
    "target_column_for_arrays": (
        single(),
        npz(x=features(), y=labels()),
        "data.npz: a target column belongs to a CSV file; arrays are named after the spec's inputs and outputs",
        {"target": "label"},
    ),
    # --- CSV -----------------------------------------------------------------------------------------------
    "csv_no_header": (
        single(),
        text("data.csv", "1,2,3,4,0\n5,6,7,8,1\n"),
        "data.csv: line 1 holds numbers, not column names: a CSV file needs a header line",
    ),
    "csv_empty_file": (
        single(),
        text("data.csv", ""),
        "data.csv: the file is empty: a CSV file needs a header line naming its columns",
    ),
    "csv_header_only": (
        single(),
        text("data.csv", "a,b,c,d,label\n"),
        "data.csv: the training data is empty (0 rows)",
    ),
    "csv_not_a_number": (
        single(),
        text("data.csv", "a,b,c,d,label\n1,2,3,4,0\n1,abc,3,4,1\n"),
        "data.csv: line 3, column 'b': 'abc' is not a number",
    ),
    "csv_empty_cell": (
        single(),
        text("data.csv", "a,b,c,d,label\n1,2,3,4,0\n1,2,,4,1\n"),
        "data.csv: line 3, column 'c': empty cell",
    ),
    "csv_nan": (
        single(),
        text("data.csv", "a,b,c,d,label\n1,2,3,4,0\n1,2,3,nan,1\n"),
        "data.csv: line 3, column 'd': 'nan' is not a finite number",
    ),
    "csv_ragged_line": (
        single(),
        text("data.csv", "a,b,c,d,label\n1,2,3,4,0\n1,2,3,1\n"),
        "data.csv: line 3 has 4 fields, the header 5",
    ),
    "csv_duplicate_column": (
        single(),
        text("data.csv", "a,b,a,d,label\n1,2,3,4,0\n"),
        "data.csv: column 'a' appears twice in the header",
    ),
    "csv_unknown_target": (
        single(),
        text("data.csv", CSV),
        "data.csv: the target column 'lable' is not in the header (columns: a, b, c, d, label); did you mean 'label'?",
        {"target": "lable"},
    ),
    "csv_unknown_feature": (
        single(data={"features": ["a", "b", "c", "dd"]}),
        text("data.csv", CSV),
        "data.csv: the feature column 'dd' is not in the header (columns: a, b, c, d, label); did you mean 'd'?",
    ),
    "csv_feature_is_target": (
        single(data={"features": ["a", "b", "c", "label"]}),
        text("data.csv", CSV),
        "data.csv: column 'label' is both a feature and a target",
    ),
    "csv_feature_count": (
        single(),
        text("data.csv", "a,b,label\n1,2,0\n"),
        "data.csv: 2 feature columns (a, b), but the input 'input' takes (None, 4)",
    ),
    "csv_several_inputs": (
        MULTI,
        text("data.csv", CSV),
        "data.csv: a CSV file feeds a model with one input, and this spec has 2 (image, features): use an .npz file "
        "or a folder of .npy files",
    ),
    "csv_several_outputs": (
        {
            **MULTI,
            "inputs": None,
            "input": {"shape": [4]},
            "layers": [
                {"type": "dense", "name": "label", "units": 3, "activation": "softmax"},
                {"type": "dense", "name": "price", "units": 1, "inputs": ["input"]},
            ],
        },
        text("data.csv", CSV),
        "data.csv: the spec has 2 outputs (label, price): name one target column per output in its data.target",
    ),
    "csv_text_regression_target": (
        single(units=1, activation="linear", loss="mse"),
        text("data.csv", "a,b,c,d,price\n1,2,3,4,1.5\n1,2,3,4,n/a\n"),
        "data.csv: line 3, column 'price': 'n/a' is not a number, and mean_squared_error takes numeric targets",
    ),
    "csv_too_many_text_classes": (
        single(units=2),
        text("data.csv", "a,b,c,d,kind\n1,2,3,4,cat\n1,2,3,4,dog\n1,2,3,4,emu\n"),
        "data.csv: column 'kind': 3 classes (cat, dog, emu), but the output 'dense' has 2 units: give it 3 units, "
        "or check the labels",
    ),
    "csv_text_binary": (
        single(units=1, activation="sigmoid", loss="binary_crossentropy"),
        text("data.csv", "a,b,c,d,kind\n1,2,3,4,cat\n1,2,3,4,dog\n1,2,3,4,emu\n"),
        "data.csv: column 'kind': 3 classes (cat, dog, emu), but binary_crossentropy takes two (labels 0 and 1)",
    ),
    "csv_labels_categorical": (
        single(loss="categorical_crossentropy"),
        text("data.csv", CSV),
        "data.csv: column 'label': one class label per example (shape (5,)), but categorical_crossentropy takes "
        "one-hot labels: use sparse_categorical_crossentropy, or one-hot labels of width 3",
    ),
    # --- the bundled digits ------------------------------------------------------------------------------
    "digits_input_shape": (
        single(shape=(28, 28, 1), units=10),
        lambda folder: "digits",
        "digits: the images are 8x8 (64 values), and the input 'input' takes (None, 28, 28, 1): give it the shape "
        "[8, 8, 1], [8, 8] or [64]",
    ),
    "digits_several_inputs": (
        MULTI,
        lambda folder: "digits",
        "digits: the digits are one input (8x8 images) and one output (the digit 0..9), and this spec has 2 inputs "
        "and 2 outputs",
    ),
    "digits_categorical": (
        single(shape=(64,), units=10, loss="categorical_crossentropy"),
        lambda folder: "digits",
        "digits: the labels: one class label per example (shape (1797,)), but categorical_crossentropy takes one-hot "
        "labels: use sparse_categorical_crossentropy, or one-hot labels of width 10",
    ),
    "digits_too_few_units": (
        single(shape=(8, 8), units=8),
        lambda folder: "digits",
        "digits: the labels: labels up to 9 (10 classes), but the output 'dense' has 8 units: give it 10 units, or "
        "check the labels",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_data_error_messages(case, tmp_path, monkeypatch):
    spec, write, expected, *options = case
    monkeypatch.chdir(tmp_path)
    source = write(tmp_path)
    with pytest.raises(DataError) as caught:
        load_data(source, load_spec(spec), **(options[0] if options else {}))
    assert str(caught.value) == expected
    assert caught.value.exit_code == 2


def test_messages_say_what_the_data_is_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    npz(x=np.zeros((0, 4)), y=np.zeros(0, dtype=np.int64))(tmp_path)
    with pytest.raises(DataError, match=r"^data.npz: the validation data is empty \(0 rows\)$"):
        load_data("data.npz", load_spec(single()), what="validation data")
    with pytest.raises(DataError, match=r"^nothing.csv: no such file or folder for the evaluation data$"):
        load_data("nothing.csv", load_spec(single()), what="evaluation data")


# --- what each source gives ------------------------------------------------------------------------------


def test_npz_x_and_y(tmp_path):
    np.savez(tmp_path / "data.npz", x=features(dtype=np.float64), y=labels())
    data = load_data(tmp_path / "data.npz", load_spec(single()))
    assert isinstance(data, Dataset) and data.size == ROWS and not data.memory_mapped
    assert list(data.inputs) == ["input"] and list(data.targets) == ["dense"]
    assert data.inputs["input"].dtype == np.float32  # float64 in the file
    np.testing.assert_allclose(data.inputs["input"], features())
    np.testing.assert_array_equal(data.targets["dense"], labels())
    assert data.source == str(tmp_path / "data.npz") and data.class_names == {}


def test_npz_spec_names_in_spec_order(tmp_path):
    np.savez(
        tmp_path / "data.npz",
        price=features(width=1),
        label=labels(),
        features=features(width=3),
        image=np.ones((ROWS, 4, 4, 1)),
    )
    data = load_data(str(tmp_path / "data.npz"), load_spec(MULTI))
    assert list(data.inputs) == ["image", "features"] and list(data.targets) == ["label", "price"]
    assert data.targets["price"].dtype == np.float32 and data.targets["label"].dtype == labels().dtype


def test_none_dimensions_match_any_length(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.zeros((ROWS, 7, 4)), y=np.zeros((ROWS, 7, 3)))
    spec = {
        "modelspec": 1,
        "input": {"shape": [None, 4]},
        "layers": [{"type": "dense", "units": 3}],
        "training": {"optimizer": "adam", "loss": "mse"},
    }
    assert load_data(tmp_path / "data.npz", load_spec(spec)).inputs["input"].shape == (ROWS, 7, 4)


def test_token_ids_are_cast_to_the_input_dtype(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.array([[1.0, 2, 3, 4]] * ROWS), y=labels())
    data = load_data(tmp_path / "data.npz", load_spec({**single(), "input": {"shape": [4], "dtype": "int32"}}))
    assert data.inputs["input"].dtype == np.int32


def test_targets_are_float32_unless_they_are_class_numbers(tmp_path):
    np.savez(tmp_path / "data.npz", x=features(), y=np.array([0, 1, 1, 0, 1]))
    binary = load_data(
        tmp_path / "data.npz", load_spec(single(units=1, activation="sigmoid", loss="binary_crossentropy"))
    )
    assert binary.targets["dense"].dtype == np.float32
    regression = load_data(tmp_path / "data.npz", load_spec(single(units=1, activation="linear", loss="mse")))
    assert regression.targets["dense"].dtype == np.float32
    classes = load_data(tmp_path / "data.npz", load_spec(single()))
    assert classes.targets["dense"].dtype == np.int64


def test_no_training_block_needs_no_labels(tmp_path):
    np.savez(tmp_path / "data.npz", x=features())
    data = load_data(tmp_path / "data.npz", load_spec(single(loss=None)))
    assert data.targets == {} and data.size == ROWS


def test_text_labels_in_an_npz_become_classes(tmp_path):
    np.savez(tmp_path / "data.npz", x=features(), y=np.array(["dog", "cat", "emu", "cat", "dog"]))
    data = load_data(tmp_path / "data.npz", load_spec(single()))
    assert data.class_names == {"dense": ["cat", "dog", "emu"]}
    np.testing.assert_array_equal(data.targets["dense"], [1, 0, 2, 0, 1])


def test_folder_of_npy_is_memory_mapped_not_loaded(tmp_path):
    npy_folder(x=features(dtype=np.float64), y=labels())(tmp_path)
    (tmp_path / "data" / "README.txt").write_text("other files in the folder are ignored")
    data = load_data(tmp_path / "data", load_spec(single()))
    assert data.memory_mapped
    assert all(isinstance(array, np.memmap) for array in (*data.inputs.values(), *data.targets.values()))
    assert data.inputs["input"].dtype == np.float64  # left as stored: the runtime casts each batch
    assert str(data.inputs["input"].filename) == str(tmp_path / "data" / "x.npy")


def test_memory_mapped_text_features_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    npy_folder(x=np.array([["a"] * 4] * ROWS), y=labels())(tmp_path)
    with pytest.raises(DataError, match=r"^data: array 'x': text \(dtype <U1\), and the input 'input' takes numbers$"):
        load_data("data", load_spec(single()))


def test_scans_read_memory_maps_in_blocks_through_the_file(tmp_path, monkeypatch):
    values = np.random.default_rng(0).normal(size=(1000, 3, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", values)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    monkeypatch.setattr(data_common, "BLOCK_BYTES", 24 * 7)  # 7 rows a block
    seen = list(data_common.blocks(mapped))
    assert [start for start, _ in seen] == list(range(0, 1000, 7))
    assert not any(isinstance(block, np.memmap) for _, block in seen)  # plain reads, not pages of the mapping
    np.testing.assert_array_equal(np.concatenate([block for _, block in seen]), values)
    values[993, 2, 1] = np.nan
    np.save(tmp_path / "x.npy", values)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert data_common.first_bad(mapped, lambda block: np.isnan(block))[0] == 993


def test_split_keeps_the_first_rows_for_training_as_keras_does(tmp_path):
    data = load_data("digits", load_spec(single(shape=(64,), units=10)))
    training, validation = data.split(0.2)
    assert (training.size, validation.size) == (1437, 360)  # floor(1797 * 0.8), as keras.utils.split does
    assert np.shares_memory(training.inputs["input"], data.inputs["input"])
    np.testing.assert_array_equal(validation.targets["dense"], data.targets["dense"][1437:])
    assert training.source == validation.source == "digits"


def test_split_of_memory_maps_stays_memory_mapped(tmp_path):
    npy_folder(x=features(10), y=labels(10))(tmp_path)
    training, validation = load_data(tmp_path / "data", load_spec(single())).split(0.3)
    assert (training.size, validation.size) == (7, 3)
    assert validation.memory_mapped and isinstance(validation.inputs["input"], np.memmap)


def test_split_too_small(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez("data.npz", x=features(2), y=labels(2))
    data = load_data("data.npz", load_spec(single()))
    with pytest.raises(DataError) as caught:
        data.split(0.6)
    assert (
        str(caught.value)
        == "data.npz: 2 rows are too few for a validation split of 0.6: no row would be left to train on"
    )


# --- CSV -------------------------------------------------------------------------------------------------


def test_csv_last_column_is_the_target(tmp_path):
    (tmp_path / "data.csv").write_text(CSV)
    data = load_data(tmp_path / "data.csv", load_spec(single()))
    np.testing.assert_array_equal(data.inputs["input"][1], [1, 2, 3, 4])
    assert data.inputs["input"].dtype == np.float32
    np.testing.assert_array_equal(data.targets["dense"], labels())
    assert data.targets["dense"].dtype == np.int64 and data.class_names == {}


def test_csv_text_target_from_the_argument_mapped_in_sorted_order(tmp_path):
    (tmp_path / "data.csv").write_text(
        "species,a,b,c,d,weight\nsetosa,1,2,3,4,0.5\nvirginica,1,2,3,4,0.5\nversicolor,1,2,3,4,1\n"
    )
    spec = single(data={"features": ["a", "b", "c", "d"], "target": "weight"})
    data = load_data(tmp_path / "data.csv", load_spec(spec), target="species")  # the argument wins over data.target
    assert data.class_names == {"dense": ["setosa", "versicolor", "virginica"]}
    np.testing.assert_array_equal(data.targets["dense"], [0, 2, 1])


def test_csv_features_from_the_spec_in_their_order(tmp_path):
    (tmp_path / "data.csv").write_text("y,d,c,b,a,unused\n0,4,3,2,1,9\n")
    spec = single(data={"features": ["a", "b", "c", "d"], "target": "y"})
    data = load_data(tmp_path / "data.csv", load_spec(spec))
    np.testing.assert_array_equal(data.inputs["input"], [[1, 2, 3, 4]])


def test_csv_features_fill_the_input_shape_and_gzip(tmp_path):
    with gzip.open(tmp_path / "data.csv.gz", "wt") as file:
        file.write("a,b,c,d,y\n1,2,3,4,0.25\n5,6,7,8,1.5\n")
    spec = single(shape=(2, 2), units=1, activation="linear", loss="mse")
    data = load_data(tmp_path / "data.csv.gz", load_spec(spec))
    assert data.inputs["input"].shape == (2, 2, 2)
    np.testing.assert_array_equal(data.inputs["input"][1], [[5, 6], [7, 8]])
    assert data.targets["dense"].dtype == np.float32  # not whole numbers: a real-valued target


def test_csv_one_target_column_per_output(tmp_path):
    (tmp_path / "data.csv").write_text("a,b,c,d,kind,price\n1,2,3,4,cat,1.5\n1,2,3,4,dog,2.5\n")
    spec = {
        "modelspec": 1,
        "input": {"shape": [4]},
        "layers": [
            {"type": "dense", "name": "label", "units": 3, "activation": "softmax"},
            {"type": "dense", "name": "price", "units": 1, "inputs": ["input"]},
        ],
        "outputs": ["label", "price"],
        "training": {"optimizer": "adam", "loss": ["sparse_categorical_crossentropy", "mse"]},
        "data": {"target": ["kind", "price"]},
    }
    data = load_data(tmp_path / "data.csv", load_spec(spec))
    assert data.class_names == {"label": ["cat", "dog"]}
    np.testing.assert_allclose(data.targets["price"], [1.5, 2.5])


# --- the bundled digits ----------------------------------------------------------------------------------


def test_digits(tmp_path):
    data = load_data("digits", load_spec(single(shape=(8, 8, 1), units=10)))
    images, digits = data.inputs["input"], data.targets["dense"]
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    assert images.min() == 0 and images.max() == 16 and np.all(images == np.floor(images))
    assert digits.dtype == np.int64 and sorted(set(digits.tolist())) == list(range(10))
    assert np.bincount(digits).min() >= 170  # about 180 of each digit
    assert data.source == "digits" and not data.memory_mapped


@pytest.mark.parametrize("shape", [(64,), (8, 8), (8, 8, 1)])
def test_digits_take_the_input_shape(shape):
    data = load_data("digits", load_spec(single(shape=shape, units=10)))
    assert data.inputs["input"].shape == (1797, *shape)


def test_digits_fit_variable_dimensions():
    spec = {
        "modelspec": 1,
        "input": {"shape": [None, None, 1]},
        "layers": [{"type": "global_average_pool2d"}, {"type": "dense", "units": 10, "activation": "softmax"}],
        "training": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
    }
    assert load_data("digits", load_spec(spec)).inputs["input"].shape == (1797, 8, 8, 1)


def test_digits_order_is_fixed():
    first = load_data("digits", load_spec(single(shape=(64,), units=10)))
    second = load_data("digits", load_spec(single(shape=(64,), units=10)))
    np.testing.assert_array_equal(first.targets["dense"], second.targets["dense"])
    # The fixed shuffle mixes the file's order: its first ten rows are the digits 0..9 in order.
    assert first.targets["dense"][:10].tolist() != list(range(10))


def test_digits_ship_with_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"modelspec.data" = ["digits/digits.csv.gz", "digits/README.md"]' in pyproject
    notice = (ROOT / "modelspec" / "data" / "digits" / "README.md").read_text()
    assert "10.24432/C50P49" in notice and "CC BY 4.0" in notice


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_digits_specs_take_the_digits(name):
    model = load_spec(ROOT / "specs" / f"{name}.yaml")
    data = load_data("digits", model)
    training, validation = data.split(model.spec.training.validation_split)
    assert validation.size == 360


def test_loading_data_imports_no_tensorflow(tmp_path):
    np.savez(tmp_path / "data.npz", x=features(), y=labels())
    script = textwrap.dedent(
        f"""
        import sys
        import modelspec.data
        assert "numpy" not in sys.modules, "importing modelspec.data imports numpy"
        from modelspec import load_spec
        from modelspec.data import load_data
        load_data("digits", load_spec({single(shape=(8, 8, 1), units=10)!r}))
        load_data({str(tmp_path / "data.npz")!r}, load_spec({single()!r}))
        print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
