"""The fitting rules (MS304–MS308) beyond their fixtures: the hints of MS305, the class indices of MS306 (which YAML
cannot spell yet, so they are given as dicts), and the facts about Keras the rules state, checked against Keras."""

from __future__ import annotations

import pytest

from modelspec import build_model, lint, load_spec
from modelspec.schema.training import logged_quantities
from tests.conftest import spec_dict

TRUNK = {"type": "dense", "name": "trunk", "units": 16, "activation": "relu"}
DIGIT = {"type": "dense", "name": "digit", "units": 10, "activation": "softmax", "inputs": ["trunk"]}
ODD = {"type": "dense", "name": "odd", "units": 1, "activation": "sigmoid", "inputs": ["trunk"]}


def _one_output(units=10, activation="softmax", **training) -> dict:
    layer = {"type": "dense", "name": "out", "units": units}
    if activation is not None:
        layer["activation"] = activation
    training = {"optimizer": "adam", "epochs": 50, "validation_split": 0.2, **training}
    return spec_dict([layer], input_shape=[8], seed=1, training=training)


def _two_outputs(**training) -> dict:
    training = {
        "optimizer": "adam",
        "loss": ["categorical_crossentropy", "binary_crossentropy"],
        "epochs": 50,
        "validation_split": 0.2,
        **training,
    }
    return spec_dict([TRUNK, DIGIT, ODD], input_shape=[8], outputs=["digit", "odd"], seed=1, training=training)


def _found(spec: dict, code: str):
    return [d for d in lint(spec) if d.code == code]


def _hint(spec: dict) -> str:
    (finding,) = _found(spec, "MS305")
    return finding.hint


@pytest.mark.parametrize(
    ("monitor", "metrics", "hint"),
    [
        ("val_acc", ["accuracy"], "monitor `val_accuracy`: Keras logs a metric under the name training.metrics"),
        ("val_mean_squared_error", ["mse"], "monitor `val_mse`"),
        ("val_rmse", ["rmse"], "monitor `val_root_mean_squared_error`"),
        ("val_auc", ["accuracy"], "add auc to training.metrics so that Keras computes it, then monitor `val_auc`"),
        ("val_acc", [], "add accuracy to training.metrics"),
        ("val_out_loss", [], "monitor `val_loss`: a model with one output logs its quantities without"),
        ("out_accuracy", ["accuracy"], "monitor `accuracy`"),
        ("val_accuracyy", ["accuracy"], "did you mean 'val_accuracy'?"),
        ("val_recal", ["accuracy"], "did you mean the metric recall? add recall to training.metrics"),
        ("val_f1_score", ["accuracy"], "monitor one of: val_loss, val_accuracy"),
    ],
)
def test_monitor_unknown_hints_at_the_name_meant(monitor, metrics, hint):
    spec = _one_output(loss="categorical_crossentropy", metrics=metrics, early_stopping={"monitor": monitor})
    assert hint in _hint(spec)


def test_monitor_unknown_on_two_outputs_names_the_per_output_quantities():
    spec = _two_outputs(metrics=["accuracy"], reduce_lr_on_plateau={"monitor": "val_accuracy"})
    assert _hint(spec) == (
        "this model has 2 outputs, so Keras logs accuracy per output: monitor `val_digit_accuracy` or "
        "`val_odd_accuracy`"
    )
    spec = _two_outputs(early_stopping={"monitor": "val_auc"})
    assert "then monitor `val_digit_auc` (one per output)" in _hint(spec)


def test_monitor_rules_read_the_default_monitor():
    spec = _one_output(loss="categorical_crossentropy", early_stopping={})
    assert _found(spec, "MS305") == []
    del spec["training"]["validation_split"]
    (finding,) = _found(spec, "MS304")
    assert "monitors val_loss" in finding.message


@pytest.mark.parametrize(
    ("units", "activation", "loss", "weights", "expected"),
    [
        (10, "softmax", "sparse_categorical_crossentropy", {0: 1.0, 9: 3.0}, []),
        (10, "softmax", "categorical_crossentropy", {0: 1.0, 10: 3.0}, ["class 10, but 'out' has 10 units"]),
        (1, "sigmoid", "binary_crossentropy", {0: 1.0, 1: 4.0}, []),
        (1, "sigmoid", "binary_crossentropy", {1: 4.0}, []),
        (1, "sigmoid", "binary_crossentropy", {0: 1.0, 2: 4.0}, ["one unit, whose classes are 0 and 1"]),
        (1, "linear", "binary_crossentropy", {3: 1.0, 4: 1.0}, ["class 3", "class 4"]),
        (1, "softmax", "categorical_crossentropy", {0: 1.0, 1: 2.0}, []),  # one categorical unit: MS302's
        (1, None, "hinge", {0: 1.0, 1: 2.0}, []),
    ],
)
def test_class_weight_indices_fit_the_output(units, activation, loss, weights, expected):
    spec = _one_output(units=units, activation=activation, loss=loss, class_weight=weights)
    found = _found(spec, "MS306")
    assert len(found) == len(expected), [d.message for d in found]
    for diagnostic, text in zip(found, expected):
        assert text in diagnostic.message


def test_class_weight_counted_from_one_says_so():
    weights = {index: 1.0 for index in range(1, 11)}
    spec = _one_output(loss="sparse_categorical_crossentropy", class_weight=weights)
    (finding,) = _found(spec, "MS306")
    assert finding.message == (
        "class_weight names class 10, but 'out' has 10 units, classes 0 to 9: no label is ever 10, so Keras never "
        "uses that weight"
    )
    assert finding.hint == "class indices count from 0: shift every index down by one"


def test_class_weight_on_two_outputs_is_one_finding():
    (finding,) = _found(_two_outputs(class_weight={0: 1.0, 1: 2.0}), "MS306")
    assert "2 outputs (digit, odd)" in finding.message


def test_patience_rule_counts_like_keras():
    def flagged(epochs, patience):
        spec = _one_output(loss="categorical_crossentropy", epochs=epochs, early_stopping={"patience": patience})
        return bool(_found(spec, "MS308"))

    # Keras acts at the end of epoch max(patience, 1) (from 0) at the earliest; the last epoch is epochs - 1.
    assert [flagged(10, p) for p in (0, 7, 8, 9, 10)] == [False, False, False, True, True]
    assert [flagged(2, 0), flagged(3, 0), flagged(3, 1), flagged(3, 2)] == [True, False, False, True]


# --- the rules' claims about Keras ------------------------------------------------------------------------------


def _fit(keras, spec, y, epochs=1, **fit_args):
    import numpy as np

    x = np.random.default_rng(0).normal(size=(len(y[0]) if isinstance(y, list) else len(y), 8)).astype("float32")
    model = build_model(spec)
    return model.fit(x, y, epochs=epochs, verbose=0, batch_size=16, **fit_args)


def test_keras_logs_what_the_rules_expect_of_one_output(keras):
    import numpy as np

    spec = _one_output(loss="categorical_crossentropy", metrics=["acc", "auc", "mse", "top_k_categorical_accuracy"])
    labels = np.eye(10, dtype="float32")[np.random.default_rng(1).integers(0, 10, 64)]
    history = _fit(keras, spec, labels, validation_split=0.25)
    expected = logged_quantities(load_spec(spec).spec.training, ["out"])
    assert sorted(history.history) == sorted(expected + [f"val_{name}" for name in expected])


def test_an_alias_is_compiled_as_written_so_its_monitor_works(keras):
    """keras-io's ct_scan_3d_classification: `metrics: [acc]` and EarlyStopping(monitor='val_acc'). Keras 3 logs
    the metric under the string it was given, so modelspec compiles `acc` as written: lint finds nothing, the
    history has val_acc, and the spec's callback finds its quantity (Keras only warns when it does not)."""
    import numpy as np

    from modelspec.runtime.callbacks import stopping_callbacks

    spec = _one_output(
        loss="categorical_crossentropy",
        metrics=["acc", "rmse"],
        early_stopping={"monitor": "val_acc", "patience": 1, "restore_best_weights": True},
    )
    assert _found(spec, "MS305") == []
    assert load_spec(spec).spec.training.metrics == ["acc", "root_mean_squared_error"]
    labels = np.eye(10, dtype="float32")[np.random.default_rng(1).integers(0, 10, 64)]
    early, _ = stopping_callbacks(keras, load_spec(spec).spec.training)
    history = _fit(keras, spec, labels, epochs=2, validation_split=0.25, callbacks=[early])
    assert sorted(history.history) == sorted(
        ["loss", "acc", "root_mean_squared_error", "val_loss", "val_acc", "val_root_mean_squared_error"]
    )
    assert early.best == max(history.history["val_acc"])


def test_keras_logs_what_the_rules_expect_of_two_outputs(keras):
    import numpy as np

    rng = np.random.default_rng(1)
    spec = _two_outputs(metrics=["accuracy", "mae"])
    labels = [np.eye(10, dtype="float32")[rng.integers(0, 10, 64)], rng.integers(0, 2, (64, 1)).astype("float32")]
    history = _fit(keras, spec, labels, validation_split=0.25)
    expected = logged_quantities(load_spec(spec).spec.training, ["digit", "odd"])
    assert sorted(history.history) == sorted(expected + [f"val_{name}" for name in expected])


def test_keras_refuses_class_weight_on_two_outputs(keras):
    import numpy as np

    rng = np.random.default_rng(1)
    labels = [np.eye(10, dtype="float32")[rng.integers(0, 10, 64)], rng.integers(0, 2, (64, 1)).astype("float32")]
    with pytest.raises(ValueError, match="only supported for Models with a single output"):
        _fit(keras, _two_outputs(), labels, class_weight={0: 1.0, 1: 2.0})


def test_keras_cannot_lower_a_scheduled_learning_rate(keras):
    import numpy as np

    spec = spec_dict(
        [{"type": "dense", "units": 1}],
        input_shape=[8],
        seed=1,
        training={
            "optimizer": {"type": "sgd", "learning_rate": 0.01},
            "learning_rate_schedule": {"type": "exponential_decay", "decay_steps": 100, "decay_rate": 0.9},
            "loss": "mse",
        },
    )
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, min_delta=1e9)  # a plateau at once
    targets = np.random.default_rng(1).normal(size=(64, 1)).astype("float32")
    with pytest.raises(TypeError, match="not settable"):
        _fit(keras, spec, targets, epochs=3, callbacks=[plateau])


@pytest.mark.parametrize(
    ("code", "training"),
    [
        ("MS304", {"validation_split": None}),  # val_loss, but nothing is held out
        ("MS305", {"early_stopping": {"monitor": "val_acuracy", "patience": 0, "min_delta": 1e9}}),
    ],
)
def test_keras_never_acts_on_a_quantity_the_run_does_not_log(keras, code, training):
    """MS304 and MS305's evidence (docs/calibration.md): Keras warns once and the callback never acts, so the run
    goes on to the last epoch; the same callback on a logged quantity stops it after the first patient epoch. (A
    build refuses MS305's spec, an error; the model here is built from the same spec without the typing slip.)"""
    import warnings

    import numpy as np

    from modelspec.runtime.callbacks import stopping_callbacks

    base = {"loss": "categorical_crossentropy", "early_stopping": {"patience": 0, "min_delta": 1e9}}
    labels = np.eye(10, dtype="float32")[np.random.default_rng(1).integers(0, 10, 64)]
    for setting, stopped in ((training, False), ({}, True)):
        spec = _one_output(**{**base, **setting})
        spec["training"] = {key: value for key, value in spec["training"].items() if value is not None}
        assert bool(_found(spec, code)) is not stopped
        early, _ = stopping_callbacks(keras, load_spec(spec).spec.training)
        split = load_spec(spec).spec.training.validation_split or 0.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = _fit(keras, _one_output(**base), labels, epochs=4, validation_split=split, callbacks=[early])
        assert len(history.history["loss"]) == (2 if stopped else 4)
        messages = [str(w.message) for w in caught]
        assert stopped or any("which is not available" in m for m in messages), messages
