"""The recall corpus's mutants: fault operators applied to small working models of the false-alarm corpus.

Pure Python (no TensorFlow, no NumPy): `benchmarks/recall.py` trains what this module generates, and
`tests/test_recall.py` regenerates it to lint it. The mutants are not stored as files (corpus/ holds working
models only, and tests/test_corpus.py lints every YAML file under it); their verdicts are, in
`corpus/mutants/verdicts.json`.

A **base** is a model of `corpus/keras_io/` made small enough to train in seconds on a stand-in task (the edits,
listed in ``BASES``, keep what the operators mutate; each base's record says them). An **operator** is a pure
function ``spec data -> mutant spec data`` (or ``None`` where it does not apply), after the fault operators of
the mutation-testing literature for deep learning (DeepCrime, Humbatova, Jahangirova and Tonella, ISSTA 2021;
DeepMutation, Ma et al., ASE 2018); the DeepCrime name of each is in its docstring. ``generate()`` applies every
operator, with each of its details, to every base, in a fixed order: a mutant's id is ``base/operator/detail``.

    PYTHONPATH=$PWD .venv/bin/python tools/mutants.py    # list the mutants
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "keras_io"

Spec = dict[str, Any]

WEIGHTED = ("dense", "conv1d", "conv2d", "lstm")  # the layer types whose kernel_initializer the operators set
FLATTENING = ("flatten", "global_average_pool1d", "global_max_pool1d", "global_average_pool2d", "global_max_pool2d")
SQUASHING = ("sigmoid", "tanh")
START_RATE = {"adam": 0.001, "sgd": 0.01, "rmsprop": 0.001}  # Keras's defaults, for a rate the spec leaves out


@dataclass(frozen=True)
class Base:
    """A corpus model made small: the file, the stand-in task that trains it, and how it differs from the file."""

    name: str
    file: str  # under corpus/keras_io/
    data: str  # the stand-in task, as benchmarks/recall.py generates it
    edits: dict[str, Any]  # dotted path -> value, set in the file's data (a layer by its position: layers.0.x)
    deviations: str  # the edits in words, and why


BASES = (
    Base(
        "mnist_convnet",
        "mnist_convnet.yaml",
        "digits28_onehot",
        {"training.epochs": 8, "training.batch_size": 32},
        "trained on the bundled digits (1,797 8×8 images, upsampled to 28×28 by nearest neighbour, one-hot "
        "labels for its categorical cross-entropy) instead of MNIST; 8 epochs of batches of 32 (the script: 15 of "
        "128 on 60,000 images) so that the ~1,600 images give enough steps",
    ),
    Base(
        "distillation_student",
        "knowledge_distillation_student.yaml",
        "digits28",
        {"training.epochs": 8, "training.validation_split": 0.2, "training.metrics": ["accuracy"]},
        "trained from scratch (the script's student_scratch) on the bundled digits upsampled to 28×28, integer "
        "labels; 8 epochs (the script: 3 on MNIST's 60,000 images); 20% held out for validation; accuracy for the "
        "script's sparse_categorical_accuracy (the same quantity, under the name the criteria read)",
    ),
    Base(
        "imbalanced_mlp",
        "imbalanced_classification.yaml",
        "tabular_binary",
        {
            "training.epochs": 8,
            "training.batch_size": 64,
            "training.metrics": ["accuracy"],
            "training.validation_split": 0.2,
        },
        "trained on a synthetic binary task (2,000 rows of 30 standard-normal features, the label a random tanh "
        "teacher's sign, 30% positives) instead of the credit-card set; batches of 64 (the script: 2,048 on "
        "230,000 rows, one step per epoch here), 8 epochs, accuracy as the metric, 20% held out",
    ),
    Base(
        "timeseries_fcn",
        "timeseries_classification_fcn.yaml",
        "sequences_binary",
        {
            "input.shape": [64, 1],
            "training.epochs": 8,
            "training.batch_size": 8,
            "training.early_stopping": None,
            "training.reduce_lr_on_plateau": None,
        },
        "trained on synthetic series (1,200 of 64 steps: a noisy sine, the class its frequency band) instead of "
        "FordA's 500 steps; 8 epochs without the script's early stopping and learning-rate schedule (500 epochs); "
        "batches of 8 (the script: 32) so that batch norm's moving variance (momentum 0.99, starting at 1) settles "
        "to the first conv's ~0.02 within 8 epochs: with 32 it is still ~17× too large at validation, and the "
        "original validates at chance",
    ),
    Base(
        "text_cnn",
        "text_classification_from_scratch.yaml",
        "tokens_binary",
        {"input.shape": [64], "layers.0.input_dim": 1000, "training.epochs": 8, "training.validation_split": 0.2},
        "trained on synthetic token sequences (2,000 of 64 tokens from a vocabulary of 1,000; the label: whether "
        "some of ten keyword tokens occur) instead of IMDB; vocabulary 1,000 (the script: 20,000), 8 epochs, "
        "20% held out",
    ),
    Base(
        "weather_lstm",
        "timeseries_weather_forecasting.yaml",
        "sequences_regression",
        {
            "input.shape": [24, 7],
            "training.epochs": 8,
            "training.batch_size": 32,
            "training.early_stopping": None,
            "training.validation_split": 0.2,
        },
        "trained on synthetic series (1,600 of 24 steps × 7 features; the target a standardised mix of the "
        "last steps' features) instead of 120 hourly Jena climate steps; batches of 32 (the script: 256 on "
        "300,000 rows), 8 epochs without early stopping",
    ),
    Base(
        "ddpg_actor",
        "ddpg_actor.yaml",
        "pendulum_regression",
        {
            "training": {
                "optimizer": {"type": "adam", "learning_rate": 0.001},
                "loss": "mse",
                "batch_size": 16,
                "epochs": 8,
                "validation_split": 0.2,
            }
        },
        "trained by regression (mse) on a synthetic policy (2,000 states of 3 values; the action a smooth function "
        "of them in [-2, 2]) instead of by the critic's gradient; the script's actor_lr 0.001 with Adam; batches "
        "of 16 (the script: 64) so that batch norm's moving statistics settle within 8 epochs of 1,600 rows",
    ),
)


def _set(data: Spec, path: str, value: Any) -> None:
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = copy.deepcopy(value)


def base_spec(base: Base) -> Spec:
    """The base model's spec data: the corpus file with the base's edits."""
    data = yaml.safe_load((CORPUS / base.file).read_text(encoding="utf-8"))
    for path, value in base.edits.items():
        _set(data, path, value)
    data["name"] = base.name
    return data


# ------------------------------------------------------------------------------------------------- helpers


def _output_index(spec: Spec) -> int:
    """Position of the head: the output layer, or the last dense layer before the output's unweighted tail (a
    rescaling of a tanh action)."""
    layers = spec["layers"]
    outputs = spec.get("outputs")
    index = [layer.get("name") for layer in layers].index(outputs[0]) if outputs else len(layers) - 1
    while index > 0 and layers[index]["type"] in ("rescaling", "activation") and "inputs" not in layers[index]:
        index -= 1
    return index


def _optimizer(spec: Spec) -> dict:
    optimizer = spec["training"]["optimizer"]
    return {"type": optimizer} if isinstance(optimizer, str) else optimizer


def _loss_name(spec: Spec) -> str:
    loss = spec["training"]["loss"]
    return loss if isinstance(loss, str) else loss["type"]


def _hidden_relus(spec: Spec) -> list[int]:
    """Positions of the hidden layers that apply ReLU (a layer's own activation or an `activation` layer)."""
    out = _output_index(spec)
    return [i for i, layer in enumerate(spec["layers"]) if i != out and layer.get("activation") == "relu"]


# ----------------------------------------------------------------------------------------------- operators


def output_activation(spec: Spec, to: str) -> Optional[Spec]:
    """DeepCrime ACH on the output layer: its activation replaced by ``to``."""
    index = _output_index(spec)
    layer = spec["layers"][index]
    if layer["type"] != "dense" or layer.get("activation", "linear") == to:
        return None
    mutant = copy.deepcopy(spec)
    mutant["layers"][index]["activation"] = to
    return mutant


def hidden_activation(spec: Spec, to: str) -> Optional[Spec]:
    """DeepCrime ACH on the hidden layers: every hidden ReLU replaced by ``to`` (all of them at once)."""
    hidden = _hidden_relus(spec)
    if not hidden:
        return None
    mutant = copy.deepcopy(spec)
    for index in hidden:
        mutant["layers"][index]["activation"] = to
    return mutant


def kernel_initializer(spec: Spec, to: Any) -> Optional[Spec]:
    """DeepCrime WCI: every kernel initialised by ``to`` (the default and each layer that sets its own)."""
    mutant = copy.deepcopy(spec)
    mutant.setdefault("defaults", {})["kernel_initializer"] = copy.deepcopy(to)
    for layer in mutant["layers"]:
        if "kernel_initializer" in layer:
            layer["kernel_initializer"] = copy.deepcopy(to)
    return mutant


def he_before_squashing(spec: Spec) -> Optional[Spec]:
    """DeepCrime WCI, He before sigmoid: He-normal kernels on the layers that apply sigmoid or tanh (LSTM gates
    included), where Glorot's variance is the one that fits."""
    indices = [
        i
        for i, layer in enumerate(spec["layers"])
        if layer["type"] in WEIGHTED and (layer.get("activation") in SQUASHING or layer["type"] == "lstm")
    ]
    if not indices:
        return None
    mutant = copy.deepcopy(spec)
    for index in indices:
        mutant["layers"][index]["kernel_initializer"] = "he_normal"
    return mutant


LOSS_SWAPS = {  # loss -> the losses that do not fit its task
    "sparse_categorical_crossentropy": ("mse", "binary_crossentropy"),
    "categorical_crossentropy": ("mse", "binary_crossentropy"),
    "binary_crossentropy": ("mse", "categorical_crossentropy"),
    "mse": ("binary_crossentropy", "categorical_crossentropy"),
}


def loss(spec: Spec, to: str) -> Optional[Spec]:
    """DeepCrime LCH: the loss replaced by ``to``, one that does not fit the task (``from_logits`` kept)."""
    if to not in LOSS_SWAPS.get(_loss_name(spec), ()):
        return None
    mutant = copy.deepcopy(spec)
    old = spec["training"]["loss"]
    logits = isinstance(old, dict) and old.get("from_logits") and to != "mse"
    mutant["training"]["loss"] = {"type": to, "from_logits": True} if logits else to
    return mutant


def output_units(spec: Spec, change: int) -> Optional[Spec]:
    """The output layer's units changed by ``change`` (the classes, or the target's width, no longer match)."""
    index = _output_index(spec)
    layer = spec["layers"][index]
    units = layer.get("units")
    if layer["type"] != "dense" or units is None or units + change < 1:
        return None
    mutant = copy.deepcopy(spec)
    mutant["layers"][index]["units"] = units + change
    return mutant


def learning_rate(spec: Spec, factor: float) -> Optional[Spec]:
    """DeepCrime HLR: the learning rate multiplied by ``factor``."""
    optimizer = _optimizer(spec)
    rate = optimizer.get("learning_rate", START_RATE.get(optimizer["type"]))
    if rate is None:
        return None
    mutant = copy.deepcopy(spec)
    mutant["training"]["optimizer"] = {**optimizer, "learning_rate": float(f"{rate * factor:.6g}")}
    return mutant


def remove_flatten(spec: Spec) -> Optional[Spec]:
    """DeepMutation LR (layer removal): the Flatten or global pooling before the dense head removed, so the head
    and the loss see spatial or time axes."""
    layers = spec["layers"]
    out = _output_index(spec)
    found = [i for i, layer in enumerate(layers[:out]) if layer["type"] in FLATTENING]
    if not found or any("inputs" in layer for layer in layers):
        return None
    mutant = copy.deepcopy(spec)
    del mutant["layers"][found[-1]]
    return mutant


def narrow_depth(spec: Spec, depth: int) -> Optional[Spec]:
    """DeepMutation LA (layer addition), depth multiplied: ``depth`` dense ReLU layers of width 8 (Glorot, as the
    base's defaults) inserted before the output layer."""
    layers = spec["layers"]
    out = _output_index(spec)
    if any("inputs" in layer for layer in layers) or layers[out]["type"] != "dense":
        return None
    narrow = [{"type": "dense", "name": f"narrow{i + 1}", "units": 8, "activation": "relu"} for i in range(depth)]
    mutant = copy.deepcopy(spec)
    mutant["layers"][out:out] = narrow
    return mutant


@dataclass(frozen=True)
class Operator:
    name: str
    detail: str
    apply: Callable[[Spec], Optional[Spec]]


NORMAL_1 = {"type": "random_normal", "mean": 0.0, "stddev": 1.0}

OPERATORS = (
    *(Operator("output_activation", to, partial(output_activation, to=to)) for to in ("linear", "relu", "sigmoid")),
    Operator("output_activation", "softmax", partial(output_activation, to="softmax")),
    *(Operator("hidden_activation", to, partial(hidden_activation, to=to)) for to in ("sigmoid", "tanh", "linear")),
    Operator("kernel_initializer", "zeros", partial(kernel_initializer, to="zeros")),
    Operator("kernel_initializer", "ones", partial(kernel_initializer, to="ones")),
    Operator("kernel_initializer", "random_normal(0, 1)", partial(kernel_initializer, to=NORMAL_1)),
    Operator("kernel_initializer", "he before sigmoid/tanh", he_before_squashing),
    *(Operator("loss", to, partial(loss, to=to)) for to in ("mse", "binary_crossentropy", "categorical_crossentropy")),
    Operator("output_units", "-1", partial(output_units, change=-1)),
    Operator("output_units", "+1", partial(output_units, change=1)),
    Operator("learning_rate", "x100", partial(learning_rate, factor=100.0)),
    Operator("learning_rate", "/1000", partial(learning_rate, factor=0.001)),
    Operator("remove_flatten", "last", remove_flatten),
    Operator("narrow_depth", "16 x relu(8)", partial(narrow_depth, depth=16)),
)
OPERATOR_NAMES = tuple(dict.fromkeys(op.name for op in OPERATORS))


@dataclass(frozen=True)
class Mutant:
    id: str  # base/operator/detail
    base: str
    operator: str
    detail: str
    spec: Spec


def generate(only: Optional[set[str]] = None) -> list[Mutant]:
    """Every mutant of every base, in a fixed order (``only``: these operators)."""
    mutants = []
    for base in BASES:
        spec = base_spec(base)
        for op in OPERATORS:
            if only and op.name not in only:
                continue
            mutant = op.apply(spec)
            if mutant is not None:
                mutant["name"] = f"{base.name}_mutant"
                mutants.append(Mutant(f"{base.name}/{op.name}/{op.detail}", base.name, op.name, op.detail, mutant))
    return mutants


def main(argv: list[str]) -> None:
    mutants = generate(set(argv) or None)
    for mutant in mutants:
        print(mutant.id)
    print(f"{len(mutants)} mutants of {len(BASES)} bases", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
