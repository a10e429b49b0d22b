"""The false-alarm corpus (corpus/): working models written by others, linted whole. Pure Python, no TensorFlow.

Every warning and error lint reports on these models is a false alarm (they train). Today's are listed in
KNOWN_FALSE_ALARMS with why the rule's premise fails there; the test fails when a new one appears, and when a
listed one stops firing (its entry must then be removed: the table cannot go stale). docs/precision.md, printed
by tools/precision.py, must match the corpus and the rules.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

_SE_LAW = (
    "squeeze-excite gate: the backward law of `multiply` (analysis/gradients.py _multiply) treats the product as "
    "element-wise, but the gate is (1, 1, C) broadcast over the H×W positions of the block, so its gradient is a "
    "sum of H·W terms that the law drops. Measured with `modelspec probe` (efficientnetb0, seed 1, batch 16): the "
    "law underestimates every se_reduce/se_expand kernel gradient by 4-60×, about √(H·W) (43× at 48×48, 4-5× at "
    "3×3), and the measured ratios are 0.036-10× the head's: nothing vanishes. Fix the law (sum over the "
    "broadcast axes) and this finding goes"
)
_SE_MOBILENETV3 = (
    "squeeze-excite gate (relu, then hard sigmoid): the `multiply` law drops the sum over the H×W positions the "
    "(1, 1, C) gate is broadcast over; measured with `modelspec probe` (seed 1, batch 16) it underestimates the "
    "squeeze_excite_conv gradients by 4-32×. But even measured, most SE convs sit at 0.003-0.06× the head's "
    "ratio, so a fixed law alone may not silence it: the premise (a side branch learning 100× slower means "
    "training suffers) fails too, since MobileNetV3 trains; SE branches behind a gate that starts near 0.5 "
    "scale the main path, they do not carry it"
)
_LAYER_SCALE = (
    "ConvNeXt block behind layer_scale (init_value 1e-6): _layer_scale passes γ·d back, so every conv inside a "
    "block is predicted about 1e-7× the head's ratio, and the law is right at step 0 (probe, convnexttiny, seed 1, "
    "batch 16: measured 1.0e-7 to 1.5e-7 against 1.4e-7 to 1.7e-7 predicted). The premise fails after it: γ "
    "itself gets a gradient/weight ratio of 1.2e4 to 3.5e4, and under Adam (the spec's optimizer; ConvNeXt is "
    "trained with AdamW) it moves by about the learning rate per step, leaving 1e-6 within the first steps, "
    "after which the block's convs get their gradient. A step-0 ratio does not set the pace of layers behind a "
    "learned gate that starts near zero: exempt them (as MS113 exempts layers that only feed normalisation)"
)
_VGG = (
    "VGG without batch norm, Glorot-uniform kernels feeding ReLU (Keras's VGG default): each conv keeps "
    "variance × fan-in ≈ 2·C_in/(C_in + C_out) and ReLU halves the second moment, so the scale falls below 0.01 "
    "by layer 11: true, measured (probe, vgg16, seed 1, batch 16: RMS 0.0099× the input's at block5_conv1). "
    "Probably false as advice: the same probe finds the gradient band flat (every kernel's gradient/weight ratio "
    "0.0011-0.0032 against the head's 0.0115, so all layers learn at one pace, and MS113 rightly stays quiet); "
    "a softmax head starts near uniform whatever the logit scale, and Adam's step does not shrink with the "
    "signal. Plain Glorot nets of this depth are reported to converge (He et al. 2015, fig. 3). Calibrated "
    "(docs/calibration.md, not on VGG itself): a 12-conv VGG-like stack on digits with Glorot (0.002) needs 2.25× "
    "the epochs He needs to reach 90% of its accuracy, then ends within 0.5% of it; a 24-layer MLP (3e-4) fails. "
    "True by issue 17's criterion (≥ 2× the epochs), mild in effect, so MS110 stays a warning and this working "
    "model stays a listed false alarm"
)
_RELU_ON_RELU = (
    "relu on relu (the Xception-style block starts with an Activation('relu') and the first block's input is "
    "already a relu output): relu∘relu = relu, an exact no-op, so 'the second activation only distorts the first' "
    "is false; the pair is redundant, not harmful (info at most). The rule should exempt idempotent pairs "
    "(relu∘relu, relu6∘relu, relu∘relu6)"
)

# (file under corpus/, rule code, layer or field path): why the rule's premise fails on this working model.
KNOWN_FALSE_ALARMS: dict[tuple[str, str, str | None], str] = {
    ("applications/convnextsmall.yaml", "MS113", "convnext_small_stage_0_block_0_pointwise_conv_1"): _LAYER_SCALE,
    ("applications/convnexttiny.yaml", "MS113", "convnext_tiny_stage_0_block_0_pointwise_conv_1"): _LAYER_SCALE,
    ("applications/efficientnetb0.yaml", "MS113", "block1a_se_reduce"): _SE_LAW,
    ("applications/efficientnetb1.yaml", "MS113", "block1b_se_reduce"): _SE_LAW,
    ("applications/efficientnetv2b0.yaml", "MS113", "block5b_se_reduce"): _SE_LAW,
    ("applications/efficientnetv2s.yaml", "MS113", "block4f_se_reduce"): _SE_LAW,
    ("applications/mobilenetv3large.yaml", "MS113", "expanded_conv_3_squeeze_excite_conv"): _SE_MOBILENETV3,
    ("applications/mobilenetv3small.yaml", "MS113", "expanded_conv_squeeze_excite_conv"): _SE_MOBILENETV3,
    ("applications/vgg16.yaml", "MS110", "block5_conv1"): _VGG,
    ("applications/vgg19.yaml", "MS110", "block4_conv3"): _VGG,
    ("keras_io/ddpg_actor.yaml", "MS106", "dense_2"): (
        "the actor's tanh OUTPUT layer is initialised in [-0.003, 0.003] on purpose (Lillicrap et al. 2015, DDPG): "
        "it starts the policy near 0, away from tanh's flat tails. The rule's premise (a fixed scale must keep "
        "the signal's variance for what follows) has nothing to protect after the last layer, and the layer's "
        "own kernel gradient does not depend on its weights' scale"
    ),
    ("keras_io/image_classification_from_scratch.yaml", "MS201", "s128_relu1"): _RELU_ON_RELU,
    ("keras_io/oxford_pets_segmentation.yaml", "MS201", "down64_relu1"): _RELU_ON_RELU,
    ("keras_io/knowledge_distillation_teacher.yaml", "MS204", "conv2d_1"): (
        "a linear conv (512 filters) straight into the logits' Dense: one linear map in two factors, as the rule "
        "says, but a factorised linear map trains (deep linear networks learn, Saxe et al. 2014) and the teacher "
        "reaches about 97.6%: 'adds parameters but no expressive power' is a design smell (info), not a training "
        "hazard. (The student, the same shape with 16/32 filters, is not flagged: its pair has fewer parameters "
        "than the merged map, a low-rank factorisation)"
    ),
    ("keras_io/ct_scan_3d_classification.yaml", "MS305", None): (
        "metrics: [acc] with EarlyStopping(monitor='val_acc'), as in the script: Keras 3.15 logs metrics=['acc'] "
        "as 'acc' and 'val_acc' (measured), so the script works. modelspec's METRIC_ALIASES rewrite acc to "
        "accuracy before compiling, so a modelspec build logs val_accuracy and the error is true of modelspec's "
        "build only; its hint ('Keras logs the metric under its full name') is wrong for Keras 3. Not a rule "
        "premise: compile with the spelling the user wrote, or let MS305 accept the alias"
    ),
}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@functools.cache
def _precision():
    return _load("_corpus_precision", ROOT / "tools" / "precision.py")


@functools.cache
def _linted():
    """The whole corpus, loaded and linted once for every test here (about 3 s)."""
    return tuple(_precision().lint_corpus())


def _found() -> dict:
    return _precision().alarms(list(_linted()))


def test_corpus_size():
    files = {path.parent.name for path in CORPUS.rglob("*.yaml")}
    counts = {folder: len(list((CORPUS / folder).glob("*.yaml"))) for folder in files}
    assert counts.get("keras_io", 0) >= 25
    assert counts.get("applications", 0) >= 20


def test_every_spec_validates():
    invalid = {m.key: [d.format() for d in m.findings if d.code.startswith("MS00")] for m in _linted()}
    assert {key: found for key, found in invalid.items() if found} == {}
    assert all(model.layers > 0 for model in _linted())


@pytest.mark.parametrize("path", sorted(CORPUS.rglob("*.yaml")), ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_every_file_names_its_source(path):
    text = _precision().header(path)
    assert "# corpus source:" in text
    if path.parent.name == "keras_io":
        assert re.search(r"keras-team/keras-io, examples/\w+/\w+\.py,", text)
        assert re.search(r"commit [0-9a-f]{40}", text)
        assert "Deviations:" in text
        assert "glorot_uniform" in text  # says that Keras's defaults are written out
    else:
        assert re.search(r"Keras \d+\.\d+\.\d+, keras\.applications\.\w+\(weights=None", text)
        assert "tools/corpus_applications.py" in text


def test_no_new_warnings_or_errors():
    """A warning or error on a working model that KNOWN_FALSE_ALARMS does not list is a new false alarm: fix the
    rule, or (if the model really is broken as translated) fix the translation; as a last resort, diagnose it in
    the table."""
    found = _found()
    new = [found[key].format() for key in sorted(found, key=str) if key not in KNOWN_FALSE_ALARMS]
    assert new == []


@pytest.mark.parametrize("key", sorted(KNOWN_FALSE_ALARMS, key=str), ids=lambda k: f"{k[1]}-{Path(k[0]).stem}")
def test_known_false_alarm_still_fires(key):
    """Each listed false alarm must still fire: when a fix silences it, remove its entry (and regenerate
    docs/precision.md with tools/precision.py --write)."""
    if key not in _found():
        pytest.fail(f"{key} no longer fires: remove it from KNOWN_FALSE_ALARMS")


def test_precision_doc_is_current():
    expected = _precision().render(list(_linted()), KNOWN_FALSE_ALARMS)
    written = (ROOT / "docs" / "precision.md").read_text(encoding="utf-8")
    assert written == expected, "docs/precision.md is stale: run tools/precision.py --write"


@pytest.mark.parametrize("path", sorted((CORPUS / "keras_io").glob("*.yaml")), ids=lambda p: p.stem)
def test_hand_written_specs_pass_the_json_schema(path):
    """What an editor with the yaml-language-server sees on the hand translations (their modeline points at it)."""
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    schema = json.loads((ROOT / "modelspec.schema.json").read_text(encoding="utf-8"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in jsonschema.Draft202012Validator(schema).iter_errors(data)
    ]
    assert problems == []
