"""Regenerate corpus/applications/: every keras.applications family imported with `modelspec import`.

Each architecture is built with ``weights=None`` at a small input size (96 × 96 × 3, 10 classes: the corpus is
linted, not trained, and a small input keeps the specs' shapes short), compiled with what the Keras
applications are trained with (categorical cross-entropy on their softmax output, Adam at 1e-3, accuracy), and
its JSON config (``model.to_json()``, which carries the compile settings) is imported by the `modelspec import`
command of this checkout, as a user would. No weights are written: the corpus is about the architecture.

    PYTHONPATH=$PWD .venv/bin/python tools/corpus_applications.py            # every architecture below
    PYTHONPATH=$PWD .venv/bin/python tools/corpus_applications.py ResNet50   # just these

Rerunnable: every file is rewritten from scratch, so after a change to the importer one command regenerates the
folder. Each spec's header names the Keras version, the call that built the model and this script.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "corpus" / "applications"
INPUT_SHAPE = (96, 96, 3)
CLASSES = 10
REFUSED = "REFUSED.txt"
# Every family of keras.applications (Keras 3.15), each by its smallest member, plus the members the issue
# names (MobileNetV3Large, EfficientNetV2S, ConvNeXtSmall) and a deeper member of the residual families.
ARCHITECTURES = (
    "ConvNeXtTiny",
    "ConvNeXtSmall",
    "DenseNet121",
    "DenseNet169",
    "EfficientNetB0",
    "EfficientNetB1",
    "EfficientNetV2B0",
    "EfficientNetV2S",
    "InceptionResNetV2",
    "InceptionV3",
    "MobileNet",
    "MobileNetV2",
    "MobileNetV3Small",
    "MobileNetV3Large",
    "NASNetMobile",
    "ResNet50",
    "ResNet101",
    "ResNet50V2",
    "VGG16",
    "VGG19",
    "Xception",
)


def snake(name: str) -> str:
    """`MobileNetV3Small` → `mobilenetv3small`: the file name."""
    return name.lower()


def header(name: str, keras_version: str) -> list[str]:
    call = f"keras.applications.{name}(weights=None, input_shape={INPUT_SHAPE}, classes={CLASSES})"
    return [
        f"# corpus source: Keras {keras_version}, {call},",
        "#   compiled with Adam(learning_rate=1e-3), categorical_crossentropy, metrics=['accuracy'];",
        "#   imported from its model.to_json() by `modelspec import`. Deviation: the input is 96 x 96 x 3 and 10",
        "#   classes instead of ImageNet's 224 x 224 x 3 (or larger) and 1,000. Regenerate with",
        "#   tools/corpus_applications.py (do not edit by hand).",
    ]


def generate(name: str, keras, folder: Path, scratch: Path) -> Optional[str]:
    """Write `folder/<name>.yaml`; return None, or why `modelspec import` refused the model (then no file)."""
    model = getattr(keras.applications, name)(weights=None, input_shape=INPUT_SHAPE, classes=CLASSES)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    config = scratch / f"{snake(name)}.json"
    config.write_text(model.to_json(), encoding="utf-8")
    target = folder / f"{snake(name)}.yaml"
    raw = scratch / f"{snake(name)}.yaml"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "modelspec", "import", str(config), "-o", str(raw)],
        env=environment,
        cwd=scratch,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode:
        target.unlink(missing_ok=True)
        classes = sorted(set(re.findall(r"\(([A-Za-z0-9_]+)\): ", done.stderr)))
        return f"`modelspec import` exit {done.returncode}: {', '.join(classes) or done.stderr.strip()[:200]}"
    lines = raw.read_text(encoding="utf-8").splitlines()
    # The importer's modeline (and its advice to write the schema beside the spec) points beside the spec; the
    # corpus's specs use the repository's schema, two folders up.
    lines = [line for line in lines if not line.startswith(("# yaml-language-server:", "# For editor completion"))]
    text = "\n".join(
        ["# yaml-language-server: $schema=../../modelspec.schema.json", *header(name, keras.__version__), *lines]
    )
    target.write_text(text + "\n", encoding="utf-8")
    return None


def main(names: list[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    unknown = [name for name in names if not hasattr(keras.applications, name)]
    if unknown:
        sys.exit(f"error: not in keras.applications: {', '.join(unknown)}")
    FOLDER.mkdir(parents=True, exist_ok=True)
    print(f"Keras {keras.__version__}: importing {len(names)} architectures into {FOLDER.relative_to(ROOT)}/")
    refused = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            why = generate(name, keras, FOLDER, Path(folder))
            if why:
                refused[name] = why
            print(f"  {name}: {why or f'corpus/applications/{snake(name)}.yaml'}", flush=True)
            keras.backend.clear_session()
    write_refused(refused, names, keras.__version__)


def write_refused(refused: dict, names: list[str], keras_version: str) -> None:
    """corpus/applications/REFUSED.txt: the architectures `modelspec import` could not express, kept up to date."""
    path = FOLDER / REFUSED
    kept = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                name, _, why = line.partition(": ")
                kept[name] = why
    for name in names:
        kept.pop(name, None)
    kept.update(refused)
    lines = [f"# keras.applications architectures `modelspec import` refused (Keras {keras_version}); one per line."]
    lines += [f"{name}: {why}" for name, why in sorted(kept.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:] or list(ARCHITECTURES))
