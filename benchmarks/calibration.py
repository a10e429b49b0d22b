"""Calibration of lint's warnings against training (issue 17, Deliver 1).

Trains controlled variants with `modelspec compare` (its Python API, `modelspec.compare`) on the bundled digits and
on two small synthetic tasks, over several seeds, per rule family, and asks of every variant lint flags: does
training measurably suffer against the rule's own hint? The criteria, fixed before the runs:

- **slower**: the variant needs ≥ 2× the epochs the hinted variant needs to reach 90% of the hinted variant's final
  validation accuracy (mean over seeds; a seed that never reaches it counts as epochs + 1, i.e. beyond the run);
- **worse**: its final validation loss (mean over seeds) is worse than the hinted variant's by ≥ 25% and ≥ 0.05
  (regression: ≥ 25%); a loss that is not finite (NaN, overflow) is worse.

A variant that is slower or worse is *degraded*. The families:

- ``signal`` (MS110/MS111, the forward signal band): ReLU MLPs without normalisation on digits, depth 4 and 24,
  width 64, kernels `auto` (He, the hint) against `glorot_uniform`, with Adam (1e-3) and SGD (0.01, momentum 0.9);
  and a VGG-like conv stack (12 3×3 convs of 16 filters in two stages, max pooling, no normalisation) with Adam.
- ``lr`` (MS303, learning-rate range): the digits MLP (one hidden layer of 128) with Adam at 1e-6..1 and SGD at
  1e-5..10, and a synthetic regression MLP with Adam at 1e-3, 0.1 and 1; the hint is the optimizer's
  START_LEARNING_RATE (Adam 1e-3, SGD 1e-2).
- ``fixed`` (MS105/MS106, fixed-scale mismatch): a ReLU MLP of depth 8 and width 32 (32 inputs) on a synthetic
  4-class task, with random_normal kernels whose variance × fan-in is 0.01 and 10 times He's, and the old Keras
  default random_uniform(±0.05) (0.013 times He's); the hint is `auto`.
- ``loss`` (MS301, one case): the digits MLP's head under sparse categorical cross-entropy (from_logits: false)
  with softmax (the hint), sigmoid and linear.
- the other warning and error rules, one case each against the rule's hint (the functions ``*_cells`` below say
  which): ``constant`` (MS101), ``he`` (MS102), ``selu`` (MS104), ``mean`` (MS105), ``seed`` (MS108),
  ``gradient`` (MS113, MS114), ``double`` (MS201), ``softmax`` (MS203), ``units`` (MS302), ``frozen``
  (MS402's freezing), ``head`` (MS301's other cases); ``vgg16`` (MS110 on the corpus's VGG16 at 32×32×3: about
  1.7 hours on the shared 2 cores, 11.5 s a step: not run to the end), ``vgg16_narrow`` (the same VGG16 at
  64×64×3 with every width divided by 4, 12 epochs: about 5 minutes). These are run only when ``--only`` names
  them.

Writes ``docs/calibration/results_FAMILIES.json`` (every run's history and every variant's findings, verdicts),
``docs/calibration/variants.md`` (one row per variant, from every results file there) and the figures
``docs/calibration/*.png``, and prints one line per variant. A full run trains 90 runs of 12 epochs; on 2 cores
shared with other jobs a run took 20-60 s, so the families were run as parallel processes with fewer seeds (the
commands are in docs/calibration.md). ``--quick`` trains 2 seeds of 10 variants for 8 epochs (20 runs, about 5
minutes on the shared machine) to check the script; ``--report`` rewrites variants.md and the figures from the
results files without training. ``--depths``, ``--skip`` and ``--seeds`` narrow a run.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/calibration.py [--quick] [--only signal,lr,fixed,loss] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

EPOCHS = 12  # epochs of a full run (--quick: 8)
SLOWER = 2.0  # ≥ 2× the epochs of the hinted variant to reach 90% of its final val_accuracy
TARGET = 0.9  # ... of the hinted variant's final val_accuracy
WORSE_RELATIVE = 0.25  # final val_loss ≥ 25% above the hinted variant's
WORSE_ABSOLUTE = 0.05  # ... and ≥ 0.05 above it (classification only)


@dataclass
class Cell:
    """One `compare` call: a spec, its data, the values of one field it varies, and which value is the hint."""

    family: str
    group: str  # what the figure's panel is about: "mlp depth 8, adam"
    spec: dict
    data: str
    vary: str  # FIELD=V1,V2,...
    hinted: str  # the label of the hinted variant, as compare labels it
    x: dict = field(default_factory=dict)  # per label: the value the figure puts on its x axis
    regression: bool = False
    accuracy: str = "val_accuracy"  # the logged accuracy the target is read from (val_binary_accuracy...)
    # False where the variants differ by their loss: their losses are in different units, so only the accuracy
    # (slower) and a loss that is not finite judge them
    same_loss: bool = True


def _mlp(name, shape: tuple[int, int, int], head, loss, optimizer, epochs, first=None):
    """A ReLU MLP without normalisation: ``shape`` is (depth, width, inputs)."""
    depth, width, inputs = shape
    layers = [first] if first else []
    layers += [{"type": "dense", "units": width, "activation": "relu"} for _ in range(depth)]
    layers.append({"type": "dense", "name": "out", **head})
    return {
        "modelspec": 1,
        "name": name,
        "seed": 1,
        "input": {"shape": [inputs]},
        "layers": layers,
        "training": {
            "optimizer": optimizer,
            "loss": loss,
            "metrics": [] if loss == "mse" else ["accuracy"],
            "batch_size": 32,
            "epochs": epochs,
            "validation_split": 0.2,
        },
    }


DIGITS_HEAD = {"units": 10, "activation": "softmax", "kernel_initializer": "glorot_uniform"}
RESCALE = {"type": "rescaling", "scale": 0.0625}
ADAM = {"type": "adam", "learning_rate": 0.001}
SGD = {"type": "sgd", "learning_rate": 0.01, "momentum": 0.9}
SMALL_SCALE = {"type": "variance_scaling", "scale": 0.5}


def _label(field_name: str, value: str) -> str:
    return f"{field_name}={value}"


def signal_cells(quick: bool, depths: tuple[int, ...] = ()) -> list[Cell]:
    depths = depths or ((16,) if quick else (4, 24))
    epochs = 8 if quick else EPOCHS
    cells = []
    inits = "auto,glorot_uniform"
    for opt_name, opt in (("adam", ADAM),) if quick else (("adam", ADAM), ("sgd", SGD)):
        for depth in depths:
            spec = _mlp(
                f"mlp{depth}_{opt_name}",
                (depth, 64, 64),
                DIGITS_HEAD,
                "sparse_categorical_crossentropy",
                opt,
                epochs,
                RESCALE,
            )
            cells.append(
                Cell(
                    "signal",
                    f"relu MLP, {opt_name}",
                    spec,
                    "digits",
                    f"kernel_initializer={inits}",
                    _label("kernel_initializer", "auto"),
                    x={"depth": depth},
                )
            )
    for opt_name, opt in () if quick else (("adam", ADAM),):
        for convs in (12,):
            cells.append(
                Cell(
                    "signal",
                    f"VGG-like conv, {opt_name}",
                    _vgg(convs, opt, epochs),
                    "digits",
                    "kernel_initializer=auto,glorot_uniform",
                    _label("kernel_initializer", "auto"),
                    x={"depth": convs},
                )
            )
    return cells


def _vgg(convs: int, optimizer: dict, epochs: int) -> dict:
    """VGG-like: convs 3×3 (16 filters, ReLU, no normalisation) in 2 stages, each ending in max pooling."""
    layers: list[dict] = [RESCALE, {"type": "reshape", "target_shape": [8, 8, 1]}]
    for _stage in range(2):
        layers += [
            {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"}
            for _ in range(convs // 2)
        ]
        layers.append({"type": "max_pooling2d", "pool_size": 2})
    layers += [{"type": "flatten"}, {"type": "dense", "name": "out", **DIGITS_HEAD}]
    return {
        "modelspec": 1,
        "name": f"vgg{convs}",
        "seed": 1,
        "input": {"shape": [64]},
        "layers": layers,
        "training": {
            "optimizer": optimizer,
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            "batch_size": 32,
            "epochs": epochs,
            "validation_split": 0.2,
        },
    }


def lr_cells(quick: bool, regression_data: str) -> list[Cell]:
    epochs = 8 if quick else EPOCHS
    adam = (1e-6, 1e-3, 1e-1) if quick else (1e-6, 1e-3, 1e-2, 3e-2, 1e-1, 1)
    sgd = (1e-5, 1e-2, 10) if quick else (1e-5, 1e-2, 1, 10)
    cells = []
    for opt, rates, start in (("adam", adam, 1e-3),) if quick else (("adam", adam, 1e-3), ("sgd", sgd, 1e-2)):
        vary = "training.optimizer.learning_rate=" + ",".join(f"{r:g}" for r in rates)
        hinted = _label("training.optimizer.learning_rate", f"{start:g}")
        xs = {_label("training.optimizer.learning_rate", f"{r:g}"): r for r in rates}
        digits = _mlp(
            f"digits_mlp_{opt}",
            (1, 128, 64),
            DIGITS_HEAD,
            "sparse_categorical_crossentropy",
            {"type": opt},
            epochs,
            RESCALE,
        )
        cells.append(Cell("lr", f"digits MLP, {opt}", digits, "digits", vary, hinted, x=xs))
        if not quick and opt == "adam":
            rates = (1e-3, 1e-1, 1)
            vary = "training.optimizer.learning_rate=" + ",".join(f"{r:g}" for r in rates)
            xs = {_label("training.optimizer.learning_rate", f"{r:g}"): r for r in rates}
            regression = _mlp(
                f"regression_{opt}", (2, 32, 8), {"units": 1, "activation": "linear"}, "mse", {"type": opt}, epochs
            )
            cells.append(
                Cell(
                    "lr",
                    f"synthetic regression, {opt}",
                    regression,
                    regression_data,
                    vary,
                    hinted,
                    x=xs,
                    regression=True,
                )
            )
    return cells


def loss_cells(quick: bool) -> list[Cell]:
    """MS301: the digits MLP's softmax head (the hint) against a sigmoid and a linear head under sparse categorical
    cross-entropy (from_logits: false), which MS301 reports as errors."""
    spec = _mlp(
        "digits_mlp_head",
        (1, 128, 64),
        DIGITS_HEAD,
        "sparse_categorical_crossentropy",
        ADAM,
        8 if quick else EPOCHS,
        RESCALE,
    )
    vary = "layers.out.activation=softmax,sigmoid,linear"
    return [Cell("loss", "digits MLP head", spec, "digits", vary, _label("layers.out.activation", "softmax"))]


def fixed_cells(quick: bool, classification_data: str) -> list[Cell]:
    epochs = 8 if quick else EPOCHS
    width = 32
    factors = (10,) if quick else (0.01, 10)
    values = ["auto"]
    xs = {_label("kernel_initializer", "auto"): 1.0}
    for factor in factors:
        stddev = round(math.sqrt(2 * factor / width), 6)
        if factor == 1:
            continue
        text = f"{{type: random_normal, stddev: {stddev:g}}}"
        values.append(text)
        xs[_label("kernel_initializer", text)] = factor
    keras1 = "{type: random_uniform, minval: -0.05, maxval: 0.05}"  # Keras 1's default: variance 0.05²/3
    if not quick:
        values.append(keras1)
        xs[_label("kernel_initializer", keras1)] = (0.05**2 / 3) * width / 2
    cells = []
    for depth in (8,):
        spec = _mlp(
            f"fixed{depth}",
            (depth, width, width),
            {"units": 4, "activation": "softmax"},
            "sparse_categorical_crossentropy",
            ADAM,
            epochs,
        )
        spec["layers"][-1]["kernel_initializer"] = "glorot_uniform"
        cells.append(
            Cell(
                "fixed",
                f"depth {depth}",
                spec,
                classification_data,
                "kernel_initializer=" + ",".join(values),
                _label("kernel_initializer", "auto"),
                x=xs,
            )
        )
    return cells


# ------------------------------------------------------------------------------ the other warning/error families
# (calibration2): one Cell per case a rule flags, each against the rule's own hint; digits or the synthetic tasks,
# tiny models, the same criteria.


def _net(name: str, layers: list[dict], *, loss="sparse_categorical_crossentropy", optimizer=None, **kw) -> dict:
    """A spec on digits (64 inputs, rescaled) unless ``inputs`` says otherwise; ``metrics`` defaults to accuracy."""
    inputs = kw.get("inputs", 64)
    first = [RESCALE] if inputs == 64 else []
    return {
        "modelspec": 1,
        "name": name,
        "seed": 1,
        "input": {"shape": [inputs]},
        "layers": first + layers,
        "training": {
            "optimizer": optimizer or ADAM,
            "loss": loss,
            "metrics": kw.get("metrics", ["accuracy"]),
            "batch_size": 32,
            "epochs": kw.get("epochs", EPOCHS),
            "validation_split": 0.2,
        },
    }


def _dense(units: int, activation: str, **fields) -> dict:
    return {"type": "dense", "units": units, "activation": activation, **fields}


def _stack(depth: int, activation: str, width: int = 64) -> list[dict]:
    return [_dense(width, activation) for _ in range(depth)]


HEAD = {"type": "dense", "name": "out", **DIGITS_HEAD}


def _cell(family: str, group: str, spec: dict, vary: str, data: str = "digits", **kw) -> Cell:
    """A Cell whose hinted variant is the first value of ``vary`` (or ``hint``)."""
    field_name, _, values = vary.partition("=")
    hint = kw.pop("hint", None) or values.split(",")[0]
    return Cell(family, group, spec, data, vary, _label(field_name, hint), **kw)


def constant_cells(epochs: int) -> list[Cell]:
    """MS101: zeros / ones / a small constant on the hidden kernels of a ReLU MLP (2 × 64), against auto (He)."""
    spec = _net("constant_kernel", _stack(2, "relu") + [HEAD], epochs=epochs)
    vary = "kernel_initializer=auto,zeros,ones,{type: constant, value: 0.05}"
    return [_cell("constant", "relu MLP 2×64, adam", spec, vary)]


def he_cells(epochs: int) -> list[Cell]:
    """MS102: He kernels feeding tanh (depth 2, 8; depth 8 also under SGD) and sigmoid (depth 3), against auto
    (Glorot); a softmax head initialised by He against glorot_uniform."""
    cells = []
    for activation, depth in (("tanh", 2), ("tanh", 8), ("sigmoid", 3)):
        spec = _net(f"he_{activation}{depth}", _stack(depth, activation) + [HEAD], epochs=epochs)
        cells.append(_cell("he", f"{activation} MLP depth {depth}, adam", spec, "kernel_initializer=auto,he_normal"))
    spec = _net("he_tanh8_sgd", _stack(8, "tanh") + [HEAD], optimizer=SGD, epochs=epochs)
    cells.append(_cell("he", "tanh MLP depth 8, sgd", spec, "kernel_initializer=auto,he_normal"))
    spec = _net("he_softmax_head", _stack(1, "relu", 128) + [HEAD], epochs=epochs)
    cells.append(_cell("he", "softmax head, adam", spec, "layers.out.kernel_initializer=glorot_uniform,he_normal"))
    return cells


def selu_cells(epochs: int) -> list[Cell]:
    """MS104: selu with glorot_uniform against lecun_normal (depth 8, 16); selu then plain dropout (0.2, in the
    middle of a depth-8 stack) against alpha_dropout."""
    cells = []
    for depth in (8, 16):
        spec = _net(f"selu{depth}", _stack(depth, "selu") + [HEAD], epochs=epochs)
        cells.append(_cell("selu", f"selu MLP depth {depth}", spec, "kernel_initializer=lecun_normal,glorot_uniform"))
    layers = _stack(4, "selu") + [{"type": "alpha_dropout", "name": "drop", "rate": 0.2}] + _stack(4, "selu")
    spec = _net("selu_dropout", layers + [HEAD], epochs=epochs)
    spec["defaults"] = {"kernel_initializer": "lecun_normal"}
    cells.append(_cell("selu", "selu MLP depth 8, dropout 0.2", spec, "layers.drop.type=alpha_dropout,dropout"))
    return cells


def mean_cells(epochs: int) -> list[Cell]:
    """MS105: kernels uniform on [0, 1] and normal with mean 0.5 on a ReLU MLP (3 × 64), against auto."""
    spec = _net("nonzero_mean", _stack(3, "relu") + [HEAD], epochs=epochs)
    vary = (
        "kernel_initializer=auto,{type: random_uniform, minval: 0.0, maxval: 1.0},"
        "{type: random_normal, mean: 0.5, stddev: 0.05}"
    )
    return [_cell("mean", "relu MLP 3×64, adam", spec, vary)]


def seed_cells(epochs: int) -> list[Cell]:
    """MS108: one explicit seed on three same-shape hidden kernels (identical weight matrices) against the model's
    seed (distinct kernels); ReLU 3 × 64 with Adam, and tanh 3 × 64 with SGD."""
    cells = []
    for activation, name, optimizer in (("relu", "adam", ADAM), ("tanh", "sgd", SGD)):
        spec = _net(f"shared_seed_{activation}", _stack(3, activation) + [HEAD], optimizer=optimizer, epochs=epochs)
        vary = "kernel_initializer=glorot_uniform,{type: glorot_uniform, seed: 7}"
        cells.append(_cell("seed", f"{activation} MLP 3×64, {name}", spec, vary))
    return cells


def gradient_cells(epochs: int) -> list[Cell]:
    """MS113: six sigmoid layers (the rule's fixture) against relu (its hint), with Adam and with SGD; four tanh
    layers under random_normal(0, 1) kernels against auto. MS114: an output layer scaled 2000-fold (the fixture)
    against glorot_uniform."""
    cells = []
    for name, optimizer in (("adam", ADAM), ("sgd", SGD)):
        layers = [{"type": "dense", "units": 64} for _ in range(6)]
        spec = _net(f"sigmoid6_{name}", layers + [HEAD], optimizer=optimizer, epochs=epochs)
        spec["defaults"] = {"activation": "sigmoid"}
        cells.append(_cell("gradient", f"sigmoid MLP depth 6, {name}", spec, "activation=relu,sigmoid"))
    spec = _net("tanh4_normal1", _stack(4, "tanh") + [HEAD], optimizer=SGD, epochs=epochs)
    vary = "kernel_initializer=auto,{type: random_normal, stddev: 1.0}"
    cells.append(_cell("gradient", "tanh MLP depth 4, sgd", spec, vary))
    spec = _net("output_2000", _stack(3, "relu") + [HEAD], epochs=epochs)
    vary = "layers.out.kernel_initializer=glorot_uniform,{type: variance_scaling, scale: 2000.0}"
    cells.append(_cell("gradient", "relu MLP 3×64, head ×2000, adam", spec, vary))
    return cells


def double_cells(epochs: int) -> list[Cell]:
    """MS201: an activation layer on a tanh hidden layer (relu, sigmoid, tanh) against none (linear, the hint);
    softmax on a sigmoid output against softmax on a linear one."""
    act = {"type": "activation", "name": "act", "activation": "linear"}
    spec = _net("double_hidden", [_dense(64, "tanh"), act, HEAD], epochs=epochs)
    cells = [_cell("double", "tanh 64 then activation", spec, "layers.act.activation=linear,relu,sigmoid,tanh")]
    head = {"type": "dense", "name": "out", "units": 10, "activation": "linear"}
    spec = _net(
        "double_head", [_dense(128, "relu"), head, {"type": "activation", "activation": "softmax"}], epochs=epochs
    )
    cells.append(_cell("double", "output, then softmax", spec, "layers.out.activation=linear,sigmoid"))
    return cells


def hidden_softmax_cells(epochs: int) -> list[Cell]:
    """MS203: softmax on the first of two hidden layers (64) against relu."""
    spec = _net("hidden_softmax", [_dense(64, "relu", name="hidden"), _dense(64, "relu"), HEAD], epochs=epochs)
    return [_cell("softmax", "relu MLP 2×64, adam", spec, "layers.hidden.activation=relu,softmax")]


def units_cells(epochs: int, binary: str) -> list[Cell]:
    """MS302 on the synthetic binary task, one output unit: softmax under binary cross-entropy against sigmoid;
    categorical cross-entropy on the sigmoid unit against binary cross-entropy. Scored by binary accuracy."""
    metric = {"metrics": ["binary_accuracy"], "inputs": 16, "epochs": epochs}
    layers = [_dense(32, "relu"), {"type": "dense", "name": "out", "units": 1, "activation": "sigmoid"}]
    spec = _net("one_unit_softmax", layers, loss="binary_crossentropy", **metric)
    group = "one unit, binary cross-entropy"
    cells = [_cell("units", group, spec, "layers.out.activation=sigmoid,softmax", binary, accuracy=ACC_BINARY)]
    spec = _net("one_unit_cce", layers, loss="binary_crossentropy", **metric)
    vary = "training.loss=binary_crossentropy,categorical_crossentropy"
    cells.append(_cell("units", "one sigmoid unit", spec, vary, binary, accuracy=ACC_BINARY, same_loss=False))
    return cells


def frozen_cells(epochs: int) -> list[Cell]:
    """MS402's effect: every weighted layer frozen (`trainable: false`) against the head left trainable (the hint).
    (MS402 itself fires only with a `pretrained:` block; the freezing is the same.)"""
    layers = [_dense(64, "relu", trainable=False), {**HEAD, "trainable": True}]
    spec = _net("frozen", layers, epochs=epochs)
    return [_cell("frozen", "relu MLP 1×64", spec, "layers.out.trainable=true,false")]


def head_cells(epochs: int, one_hot: str) -> list[Cell]:
    """MS301's other cases: sigmoid against softmax on a separate `activation` layer under sparse categorical
    cross-entropy; binary cross-entropy against categorical on a softmax head (one-hot digits, scored by
    categorical accuracy)."""
    head = {"type": "dense", "name": "out", "units": 10, "activation": "linear"}
    act = {"type": "activation", "name": "act", "activation": "softmax"}
    spec = _net("activation_layer_head", [_dense(128, "relu"), head, act], epochs=epochs)
    cells = [_cell("head", "activation layer head", spec, "layers.act.activation=softmax,sigmoid")]
    spec = _net(
        "softmax_bce", [_dense(128, "relu"), HEAD], loss="categorical_crossentropy", metrics=["categorical_accuracy"]
    )
    spec["training"]["epochs"] = epochs
    vary = "training.loss=categorical_crossentropy,binary_crossentropy"
    cells.append(_cell("head", "softmax head, one-hot", spec, vary, one_hot, accuracy=ACC_CATEGORICAL, same_loss=False))
    return cells


ACC_BINARY = "val_binary_accuracy"
ACC_CATEGORICAL = "val_categorical_accuracy"
NEW_FAMILIES = ("constant", "he", "selu", "mean", "seed", "gradient", "double", "softmax", "units", "frozen", "head")


def new_cells(families: set, epochs: int, binary: str, one_hot: str) -> list[Cell]:
    makers = {
        "constant": lambda: constant_cells(epochs),
        "he": lambda: he_cells(epochs),
        "selu": lambda: selu_cells(epochs),
        "mean": lambda: mean_cells(epochs),
        "seed": lambda: seed_cells(epochs),
        "gradient": lambda: gradient_cells(epochs),
        "double": lambda: double_cells(epochs),
        "softmax": lambda: hidden_softmax_cells(epochs),
        "units": lambda: units_cells(epochs, binary),
        "frozen": lambda: frozen_cells(epochs),
        "head": lambda: head_cells(epochs, one_hot),
    }
    return [cell for name in NEW_FAMILIES if name in families for cell in makers[name]()]


def more_data(folder: Path) -> tuple[str, str]:
    """A binary task (y = [x₀x₁ + 0.5·x₂ > 0] on 2,000 standard-normal points in 16 dimensions) and the digits with
    one-hot labels, as .npz files."""
    import numpy as np
    import yaml

    from modelspec.data import load_data
    from modelspec.loader import load_spec

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 16)).astype("float32")
    y = ((x[:, 0] * x[:, 1] + 0.5 * x[:, 2]) > 0).astype("float32")[:, None]
    binary = folder / "binary.npz"
    np.savez(binary, x=x, y=y)
    dataset = load_data("digits", load_spec(yaml.safe_dump(_net("reader", [HEAD]))))
    (xd,), (yd,) = dataset.inputs.values(), dataset.targets.values()
    one_hot = folder / "digits_one_hot.npz"
    np.savez(one_hot, x=xd, y=np.eye(10, dtype="float32")[yd])
    return str(binary), str(one_hot)


def vgg16_cells(data: str, epochs: int = 6, divisor: int = 1, size: int = 32) -> list[Cell]:
    """MS110 on the corpus's VGG16 itself (corpus/applications/vgg16.yaml: Keras's VGG16, Glorot kernels, Adam
    1e-3), its input shrunk to 32 × 32 × 3 for the shared CPUs, on the digits tiled to 32 × 32 × 3: its
    glorot_uniform kernels against `auto`. One seed, 6 epochs (set by --seeds and EPOCHS for this family).

    ``divisor`` > 1 divides every conv's filters and fc1's and fc2's units by it, and ``size`` is the input's side
    (family ``vgg16_narrow``: ÷4 at 64 × 64 × 3, for 2 cores). Every layer's Glorot variance × fan-in,
    2·C_in/(C_in + C_out), is unchanged but the first's (3 input channels) and fc1's (its fan-in follows the input's
    side); these two choices together give the logits the corpus VGG16's predicted scale (0.0022× the input's,
    against 0.0021× at full width and 96 × 96; 0.0051× at ÷8 and 96 × 96, 0.0004× at ÷4 and 32 × 32)."""
    import yaml

    spec = yaml.safe_load((Path(__file__).resolve().parent.parent / "corpus/applications/vgg16.yaml").read_text())
    spec["input"]["shape"] = [size, size, 3]
    spec["seed"] = 1
    for layer in spec["layers"]:
        if "filters" in layer:
            layer["filters"] //= divisor
        if layer.get("name") in ("fc1", "fc2"):
            layer["units"] //= divisor
    spec["training"] = {
        "optimizer": ADAM,
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
        "batch_size": 32,
        "epochs": epochs,
        "validation_split": 0.2,
    }
    if divisor > 1:
        spec["name"] = f"vgg16_div{divisor}_{size}"
    vary = "kernel_initializer=glorot_uniform,auto"
    title = f"VGG16 (corpus) at {size}×{size}×3" + (f", widths ÷{divisor}" if divisor > 1 else "")
    return [Cell("vgg16", title, spec, data, vary, _label("kernel_initializer", "auto"))]


def vgg_families(families: set, folder: Path) -> list[Cell]:
    """The cells of the families ``vgg16`` (full width, 32 × 32, 6 epochs) and ``vgg16_narrow`` (÷4, 64 × 64)."""
    cells = []
    if "vgg16" in families:
        cells += vgg16_cells(digits_tiled(folder))
    if "vgg16_narrow" in families:
        cells += vgg16_cells(digits_tiled(folder, 64), EPOCHS, divisor=4, size=64)
    return cells


def digits_tiled(folder: Path, size: int = 32) -> str:
    """The digits scaled to [0, 1], each pixel repeated (size/8)² times (size × size) on 3 channels, one-hot
    labels, as .npz."""
    import numpy as np

    one_hot = np.load(more_data(folder)[1])
    x = one_hot["x"].reshape(-1, 8, 8, 1) / 16.0
    x = np.repeat(np.repeat(x, size // 8, axis=1), size // 8, axis=2).repeat(3, axis=3).astype("float32")
    path = folder / f"digits_{size}x{size}x3.npz"
    np.savez(path, x=x, y=one_hot["y"])
    return str(path)


def synthetic(folder: Path) -> tuple[str, str]:
    """Two synthetic tasks as .npz files: 4-class classification of 32 standard-normal features by a random tanh
    teacher (2,000 rows) and regression of one standardised target from 8 features (1,500 rows)."""
    import numpy as np

    rng = np.random.default_rng(17)
    x = rng.standard_normal((2000, 32)).astype("float32")
    hidden = np.tanh(x @ rng.standard_normal((32, 16)) / math.sqrt(32))
    y = np.argmax(hidden @ rng.standard_normal((16, 4)), axis=1)
    classification = folder / "classification.npz"
    np.savez(classification, x=x, y=y)
    xr = rng.standard_normal((1500, 8)).astype("float32")
    target = np.sin(xr @ rng.standard_normal(8) / math.sqrt(8) * 2) + 0.1 * (xr[:, 0] ** 2)
    target = ((target - target.mean()) / target.std()).astype("float32")[:, None]
    regression = folder / "regression.npz"
    np.savez(regression, x=xr, y=target)
    return str(classification), str(regression)


# ----------------------------------------------------------------------------------------------------- judging


def _reach_epoch(rows: list[dict], quantity: str, value: float) -> int | None:
    for number, row in enumerate(rows, 1):
        if quantity in row and math.isfinite(row[quantity]) and row[quantity] >= value:
            return number
    return None


def judge(cell: Cell, variants: list[dict]) -> list[dict]:
    """Per variant: its findings' codes, mean final val_loss and val_accuracy, epochs to the target, verdict."""
    by_label = {v["label"]: v for v in variants}
    hinted = by_label[cell.hinted]
    epochs = cell.spec["training"]["epochs"]

    def final(variant, quantity):
        values = [run["epochs"][-1].get(quantity, math.nan) for run in variant["runs"] if run["epochs"]]
        if not values or any(not math.isfinite(v) for v in values):
            return math.nan
        return sum(values) / len(values)

    target = None if cell.regression else TARGET * final(hinted, cell.accuracy)

    def reach(variant):
        if target is None:
            return None
        numbers = [_reach_epoch(run["epochs"], cell.accuracy, target) for run in variant["runs"]]
        return sum(epochs + 1 if n is None else n for n in numbers) / len(numbers)

    hinted_loss, hinted_reach = final(hinted, "val_loss"), reach(hinted)
    judged = []
    for variant in variants:
        loss, reached = final(variant, "val_loss"), reach(variant)
        margin = WORSE_RELATIVE * hinted_loss if cell.regression else max(WORSE_ABSOLUTE, WORSE_RELATIVE * hinted_loss)
        worse = not math.isfinite(loss) or (cell.same_loss and loss >= hinted_loss + margin)
        slower = reached is not None and hinted_reach is not None and reached >= SLOWER * hinted_reach
        codes = sorted({(f["code"], f["level"]) for f in variant["findings"]})
        judged.append(
            {
                "family": cell.family,
                "group": cell.group,
                "x": cell.x.get(variant["label"], cell.x.get("depth")),
                "depth": cell.x.get("depth"),
                "label": variant["label"],
                "hinted": variant["label"] == cell.hinted,
                "findings": [f"{code}:{level}" for code, level in codes],
                "val_loss": loss,
                "val_accuracy": None if cell.regression else final(variant, cell.accuracy),
                "epochs_to_target": reached,
                "hinted_epochs_to_target": hinted_reach,
                "slower": slower,
                "worse": worse,
                "degraded": (slower or worse) and variant["label"] != cell.hinted,
            }
        )
    return judged


def run_cell(cell: Cell, seeds: int) -> list[dict]:
    from modelspec import compare
    from modelspec.requests import Options

    result = compare(cell.spec, cell.data, [cell.vary], Options(seed=1), seeds=seeds)
    return result.to_dict()["variants"]


# ---------------------------------------------------------------------------------------------------- figures


def _short(label: str) -> str:
    field, _, value = label.partition("=")
    if value in ("true", "false"):  # a switch says little without its field: `trainable: false`
        return f"{field.rsplit('.', 1)[-1]}: {value}"
    return {
        "{type: variance_scaling, scale: 0.5}": "variance_scaling(0.5)",
        "{type: random_uniform, minval: -0.05, maxval: 0.05}": "uniform ±0.05 (Keras 1)",
        "{type: random_uniform, minval: 0, maxval: 1}": "uniform [0, 1]",
        "{type: random_normal, mean: 0.5, stddev: 0.05}": "normal(0.5, 0.05)",
        "{type: glorot_uniform, seed: 7}": "glorot_uniform, one seed",
        "{type: random_normal, stddev: 1}": "normal(0, 1)",
        "{type: variance_scaling, scale: 2000}": "variance_scaling(2000)",
        "{type: constant, value: 0.05}": "constant 0.05",
    }.get(value, value)


def _marker(row: dict) -> str:
    fired = [f for f in row["findings"] if f.split(":")[0] in {"MS105", "MS106", "MS110", "MS111", "MS303"}]
    return ", ".join(f.split(":")[0] + ("!" if f.endswith("error") else "") for f in fired)


def predicted_scales() -> dict[tuple, float]:
    """(group, depth, label) -> the smallest scale factor lint's signal analysis predicts at a weighted layer, for
    every variant of the signal and fixed families (pure Python: the analysis MS110 and MS111 judge)."""
    import yaml

    from modelspec.linter.rule import Subject
    from modelspec.loader import load_spec
    from modelspec.variants import variants

    scales = {}
    cells = signal_cells(False, (4, 12, 16, 24)) + signal_cells(True) + fixed_cells(False, "") + fixed_cells(True, "")
    for cell in cells:
        model = load_spec(yaml.safe_dump(cell.spec))
        for variant in variants(model, [cell.vary]):
            subject = Subject(variant.model)
            factors = [
                p.factor for n, p in subject.signal.layers.items() if p.factor and n in subject.analysis.weighted
            ]
            scales[(cell.group, cell.x.get("depth"), variant.label)] = (min(factors), max(factors))
    return scales


def plot_signal(rows: list[dict], path: Path) -> None:
    """Against the predicted scale (log x): each variant's epochs to the target and its final accuracy, relative
    to its hinted variant's; MS110's threshold and the criterion drawn in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = predicted_scales()
    mine = [r for r in rows if r["family"] in ("signal", "fixed") and not r["hinted"] and r["val_accuracy"]]
    hinted = {(r["group"], r["depth"]): r for r in rows if r["hinted"]}
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for r in mine:
        low, high = scales[(r["group"], r["depth"], r["label"])]
        if high > 10:  # an exploding variant: MS111's, drawn in the fixed-scale figure
            continue
        base = hinted[(r["group"], r["depth"])]
        name = r["group"].replace("relu MLP", "MLP") + (f" d{r['depth']}" if r["depth"] else "")
        if r["family"] == "fixed":
            name = f"MLP d8, {_short(r['label'])}".replace("{type: random_normal, stddev: 0.025}", "N(0, 0.025)")
        fired = any(f.startswith("MS110") for f in r["findings"])
        colour = "tab:red" if r["degraded"] else "tab:green"
        ratio = r["epochs_to_target"] / base["epochs_to_target"]
        for axis, y in ((axes[0], ratio), (axes[1], r["val_accuracy"] / base["val_accuracy"])):
            axis.scatter([low], [y], color=colour, marker="s" if fired else "o", s=50, zorder=3)
            if axis is axes[0] or y < 0.9:  # the right panel names only the variants that end worse
                below = name.startswith("VGG") or "Keras 1" in name
                offset = (-20, -13) if below and axis is axes[0] else (5, 3)
                axis.annotate(name, (low, y), textcoords="offset points", xytext=offset, fontsize=7)
    for axis in axes:
        axis.axvline(0.01, color="black", linestyle="--", alpha=0.5, label="MS110 threshold (vanishing-scale 0.01)")
        axis.set_xscale("log")
        axis.set_xlabel("smallest predicted scale (lint's signal analysis), log")
        axis.grid(alpha=0.3)
    axes[0].axhline(SLOWER, color="tab:red", linestyle=":", label=f"criterion: {SLOWER:g}× the epochs")
    axes[0].set_ylabel("epochs to 90% of He's accuracy ÷ He's")
    axes[1].set_ylabel("final val_accuracy ÷ He's")
    axes[0].scatter([], [], color="gray", marker="s", label="MS110 warns")
    axes[0].scatter([], [], color="gray", marker="o", label="no MS110")
    axes[0].legend(fontsize=7, frameon=False, loc="center left")
    figure.suptitle(
        "Forward signal band, ReLU stacks without normalisation against He: red = degraded, green = not", fontsize=10
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _usual_rates(optimizer: str) -> tuple[float, float]:
    from modelspec.schema.training import OPTIMIZER_MODELS

    return next(
        m.USUAL_LEARNING_RATES for m in OPTIMIZER_MODELS if m.model_fields["type"].annotation.__args__[0] == optimizer
    )


def plot_lr(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(r["group"] for r in rows if r["family"] == "lr"))
    figure, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4.0), squeeze=False)
    for axis, group in zip(axes[0], groups):
        series = sorted((r for r in rows if r["group"] == group and r["family"] == "lr"), key=lambda r: r["x"])
        xs = [r["x"] for r in series]
        ys = [r["val_loss"] if math.isfinite(r["val_loss"]) else float("nan") for r in series]
        axis.plot(xs, ys, marker="o", color="tab:blue")
        top = max((y for y in ys if y == y), default=1.0)
        for r, y in zip(series, ys):
            shown = y if y == y else top
            if not math.isfinite(r["val_loss"]):
                axis.scatter([r["x"]], [top], marker="x", color="red", s=60)
            if r["degraded"]:
                axis.scatter([r["x"]], [shown], s=140, facecolors="none", edgecolors="red", linewidths=1.5)
        hinted = [r for r in series if r["hinted"]]
        for r in hinted:
            axis.axvline(r["x"], color="green", alpha=0.6, linestyle="--", label="start rate (the hint)")
        low, high = _usual_rates(group.rsplit(", ", 1)[-1])
        axis.axvspan(low, high, color="green", alpha=0.08, label="MS303's range (no finding)")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(group, fontsize=10)
        axis.set_xlabel("learning rate")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("final val_loss (mean of seeds; x = NaN)")
    axes[0][0].legend(fontsize=8, frameon=False, loc="upper center")
    figure.suptitle(
        "Learning rate: red ring = degraded against the start rate; outside the shaded range MS303 warns", fontsize=10
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_fixed(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = [r for r in rows if r["family"] == "fixed"]
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for index, group in enumerate(dict.fromkeys(r["group"] for r in mine)):
        series = sorted((r for r in mine if r["group"] == group), key=lambda r: r["x"])
        xs = [r["x"] for r in series]
        ys = [r["val_accuracy"] if r["val_accuracy"] == r["val_accuracy"] else 0.0 for r in series]
        axis.plot(xs, ys, marker="os^"[index % 3], label=group)
        for r, y in zip(series, ys):
            if r["degraded"]:
                axis.scatter([r["x"]], [y], s=140, facecolors="none", edgecolors="red", linewidths=1.5)
            if _marker(r):
                offset = (4, 4) if len(axis.texts) % 2 == 0 else (4, -12)
                axis.annotate(_marker(r), (r["x"], y), textcoords="offset points", xytext=offset, fontsize=7)
    axis.set_xscale("log")
    axis.set_xlabel("variance × fan-in ÷ He's (1 = auto; 0.013 = uniform ±0.05, Keras 1, on 32 inputs)")
    axis.set_ylabel("final val_accuracy (mean of seeds)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, frameon=False)
    axis.set_title("Fixed-scale mismatch, ReLU width 32: red ring = degraded; text = rule that fired", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_rules(rows: list[dict], path: Path) -> None:
    """The other rule families: each flagged variant's final accuracy against its hinted variant's (one bar pair per
    case, the rules that fired written beside it); red = degraded by the criteria, green = not."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = [r for r in rows if r["family"] in NEW_FAMILIES]
    hinted = {(r["family"], r["group"]): r for r in mine if r["hinted"]}
    flagged = [r for r in mine if not r["hinted"] and (r["family"], r["group"]) in hinted]
    flagged.sort(key=lambda r: NEW_FAMILIES.index(r["family"]))
    figure, axis = plt.subplots(figsize=(11, 0.3 * len(flagged) + 1.4))
    for index, r in enumerate(flagged):
        base = hinted[(r["family"], r["group"])]["val_accuracy"] or 0.0
        value = r["val_accuracy"] if r["val_accuracy"] == r["val_accuracy"] else 0.0
        axis.barh(index, base, color="lightgray", height=0.8)
        axis.barh(index, value, color="tab:red" if r["degraded"] else "tab:green", height=0.45)
        fired = ", ".join(f.split(":")[0] for f in r["findings"] if not f.endswith("info"))
        axis.text(1.02, index, fired or "–", va="center", fontsize=7, clip_on=False)
    axis.set_yticks(range(len(flagged)))
    axis.set_yticklabels([f"{r['group']}: {_short(r['label'])}" for r in flagged], fontsize=7)
    axis.invert_yaxis()
    axis.set_xlim(0, 1.0)  # accuracy; the rules that fired are written in the margin on the right
    axis.set_xlabel("final validation accuracy (mean of 2 seeds); grey = the hinted variant")
    axis.set_title("Other rule families: red = degraded against the rule's hint, green = not (right: rules fired)",
                   fontsize=9)  # fmt: skip
    figure.tight_layout()
    figure.subplots_adjust(right=0.86)  # room for the rules' codes beside the bars
    figure.savefig(path, dpi=110, bbox_inches="tight")  # the longest case names are not clipped on the left
    plt.close(figure)


# ------------------------------------------------------------------------------------------------------- report


def _number(value, digits=3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def write_report(out: Path) -> list[dict]:
    """Read every results_*.json in ``out``, write ``variants.md`` (one row per variant) and the figures."""
    rows: list[dict] = []
    notes = []
    for path in sorted(out.glob("results_*.json")):
        document = json.loads(path.read_text())
        rows += document["rows"]
        notes.append(f"`{path.name}`: {document['mode']} run, {document['seeds']} seeds, {document['seconds']} s")
    lines = [
        "# Calibration: every variant",
        "",
        "Generated by `benchmarks/calibration.py` (see docs/calibration.md); " + "; ".join(notes) + ".",
        "",
        f"*degraded*: ≥ {SLOWER:g}× the hinted variant's epochs to reach {TARGET:.0%} of its final val_accuracy "
        f"(a seed that never does counts as epochs + 1), or a final val_loss ≥ {WORSE_RELATIVE:.0%} (and, for "
        f"classification, ≥ {WORSE_ABSOLUTE:g}) above the hinted variant's, or not finite. Means over the seeds. "
        "The lint column is what the rules said when the variant was trained (the results files record it): "
        "rules changed since (MS303's Adam range) say otherwise today.",
        "",
        "| family | model | variant | lint when trained (warning/error) | val_loss | val_accuracy "
        "| epochs to target | verdict |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        fired = " ".join(f.split(":")[0] for f in r["findings"] if not f.endswith("info")) or "–"
        verdict = "hint" if r["hinted"] else ("**degraded**" if r["degraded"] else "fine")
        model = r["group"] + (f", depth {r['depth']}" if r.get("depth") else "")
        lines.append(
            f"| {r['family']} | {model} | {_short(r['label'])} | {fired} | {_number(r['val_loss'])} | "
            f"{_number(r['val_accuracy'])} | {_number(r['epochs_to_target'])} | {verdict} |"
        )
    (out / "variants.md").write_text("\n".join(lines) + "\n")
    families = {r["family"] for r in rows}
    if "signal" in families:
        plot_signal(rows, out / "signal_band.png")
    if "lr" in families:
        plot_lr(rows, out / "learning_rate.png")
    if "fixed" in families:
        plot_fixed(rows, out / "fixed_scale.png")
    if families & set(NEW_FAMILIES):
        plot_rules(rows, out / "rules.png")
    return rows


# ------------------------------------------------------------------------------------------------------- main


def _save(out: Path, families: set, args, rows: list[dict], raw: list[dict], seconds: float) -> None:
    """Write the results file of these families (atomically: a stopped run leaves the last complete cell)."""
    document = {
        "mode": "quick" if args.quick else "full",
        "seeds": 2 if args.quick and args.seeds == 3 else args.seeds,
        "seconds": round(seconds),
        "rows": rows,
        "criteria": {
            "slower": SLOWER,
            "target": TARGET,
            "worse_relative": WORSE_RELATIVE,
            "worse_absolute": WORSE_ABSOLUTE,
        },
        "runs": raw,
    }
    path = out / f"results_{'_'.join(sorted(families))}.json"
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(document, indent=1, default=str) + "\n")
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer depths, rates and epochs (about 2 minutes)")
    parser.add_argument("--only", default="signal,lr,fixed,loss", help="families to run, comma-separated")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--depths", default="", help="depths of the signal family's MLPs (default 4,24)")
    parser.add_argument("--skip", default="", help="models to leave out, comma-separated (mlp4_sgd,vgg12)")
    parser.add_argument("--report", action="store_true", help="train nothing: rewrite variants.md and the figures")
    parser.add_argument("--out", default="docs/calibration", help="folder for results.json and the figures")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.report:
        print(f"{len(write_report(out))} variants; wrote {out}")
        return
    families = set(args.only.split(","))
    seeds = 2 if args.quick and args.seeds == 3 else args.seeds
    started = time.perf_counter()
    rows: list[dict] = []
    raw: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        classification, regression = synthetic(Path(folder))
        cells = []
        if "signal" in families:
            cells += signal_cells(args.quick, tuple(int(d) for d in args.depths.split(",") if d))
        if "lr" in families:
            cells += lr_cells(args.quick, regression)
        if "fixed" in families:
            cells += fixed_cells(args.quick, classification)
        if "loss" in families:
            cells += loss_cells(args.quick)
        if families & set(NEW_FAMILIES):
            cells += new_cells(families, 8 if args.quick else EPOCHS, *more_data(Path(folder)))
        cells += vgg_families(families, Path(folder))
        skipped = set(args.skip.split(","))
        cells = [cell for cell in cells if cell.spec["name"] not in skipped]
        for number, cell in enumerate(cells, 1):
            tick = time.perf_counter()
            variants = run_cell(cell, seeds)
            judged = judge(cell, variants)
            rows += judged
            raw.append(
                {
                    "family": cell.family,
                    "group": cell.group,
                    "spec": cell.spec["name"],
                    "vary": cell.vary,
                    "variants": variants,
                }
            )
            for r in judged:
                verdict = "DEGRADED" if r["degraded"] else ("hint" if r["hinted"] else "ok")
                accuracy = "" if r["val_accuracy"] is None else f" val_acc {r['val_accuracy']:.3f}"
                reach = "" if r["epochs_to_target"] is None else f" reach {r['epochs_to_target']:.1f}"
                print(
                    f"{cell.spec['name']:>18} {_short(r['label']):>26}: val_loss {r['val_loss']:.4g}{accuracy}"
                    f"{reach} {verdict:>8} [{' '.join(r['findings'])}]",
                    flush=True,
                )
            print(f"-- cell {number}/{len(cells)} in {time.perf_counter() - tick:.0f} s", flush=True)
            _save(out, families, args, rows, raw, time.perf_counter() - started)  # after each cell: kept if stopped
    write_report(out)
    print(f"{len(rows)} variants in {time.perf_counter() - started:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
