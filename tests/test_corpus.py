"""The false-alarm corpus (corpus/): working models written by others, linted whole. Pure Python, no TensorFlow.

Every warning and error lint reports on these models is a false alarm (they train), unless training the model as
written confirmed it (CONFIRMED, with the measurement). False alarms, when there are any, are listed in
KNOWN_FALSE_ALARMS with why the rule's premise fails there; the test fails when a new one appears, and when a
listed or confirmed one stops firing (its entry must then be removed: the tables cannot go stale).
docs/precision.md, printed by tools/precision.py, must match the corpus and the rules.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from tests.conftest import load_script

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

# (file under corpus/, rule code, layer or field path): findings on corpus models that training confirmed: the
# model as written (Keras's defaults, the stated optimizer) trains measurably worse than with the rule's hint, so
# the corpus's premise ("they train") fails there and the finding is true. Each must still fire.
_VGG = (
    "Keras's VGG16 and VGG19 with weights=None keep Glorot-uniform kernels before ReLU and no normalisation, so"
    " the predicted scale falls below 0.01 by layer 11 (0.0099× at vgg16's block5_conv1, 0.0021× at its logits;"
    " probe, seed 1, batch 16: RMS 0.0099× the input's at block5_conv1). Trained, the finding holds: VGG16 with"
    " every width divided by 4 at 64 × 64 × 3, whose logits lint predicts at the corpus model's scale "
    "(0.0022×), on the digits tiled to 64 × 64 × 3 with the corpus's Adam 1e-3, stays at chance (val_accuracy "
    "0.081, val_loss 2.307 = ln 10) for 12 epochs with glorot_uniform on 3 of 3 seeds, while `auto` (He) "
    "reaches 0.96-0.97 by epoch 3 (`benchmarks/calibration.py --only vgg16_narrow --seeds 3`, 4.5 minutes on 2 "
    "cores; docs/calibration.md). The same model at 96 × 96 and widths ÷8 (logits 0.0051×) trains, slower and "
    "to a worse loss (0.111 against 0.047). Keras ships these architectures for pretrained weights; trained "
    "from scratch as written they do not learn. VGG19 (3 more convs, a smaller predicted scale) was not trained."
)
CONFIRMED: dict[tuple[str, str, str | None], str] = {
    ("applications/vgg16.yaml", "MS110", "block5_conv1"): _VGG,
    ("applications/vgg19.yaml", "MS110", "block4_conv3"): _VGG,
}

# (file under corpus/, rule code, layer or field path): why the rule's premise fails on this working model.
KNOWN_FALSE_ALARMS: dict[tuple[str, str, str | None], str] = {}


@functools.cache
def _precision():
    return load_script("_corpus_precision", ROOT / "tools" / "precision.py")


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
    """A warning or error on a working model that neither table lists is a new false alarm: fix the rule, or (if
    the model really is broken as translated) fix the translation; train it to confirm the finding (CONFIRMED), or,
    as a last resort, diagnose it in KNOWN_FALSE_ALARMS."""
    found = _found()
    listed = KNOWN_FALSE_ALARMS | CONFIRMED
    new = [found[key].format() for key in sorted(found, key=str) if key not in listed]
    assert new == []


@pytest.mark.parametrize(
    "key", sorted(KNOWN_FALSE_ALARMS | CONFIRMED, key=str), ids=lambda k: f"{k[1]}-{Path(k[0]).stem}"
)
def test_a_listed_finding_still_fires(key):
    """Each listed false alarm and confirmed finding must still fire: when a change silences it, remove its entry
    (and regenerate docs/precision.md with tools/precision.py --write)."""
    if key not in _found():
        pytest.fail(f"{key} no longer fires: remove it from KNOWN_FALSE_ALARMS or CONFIRMED")


def test_no_finding_is_both_confirmed_and_a_false_alarm():
    assert set(KNOWN_FALSE_ALARMS) & set(CONFIRMED) == set()


def test_precision_doc_is_current():
    expected = _precision().render(list(_linted()), KNOWN_FALSE_ALARMS, CONFIRMED)
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
