"""The calibration study (benchmarks/calibration.py, docs/calibration.md): its verdicts follow the stated criteria,
its threshold table says what the rules do, and every calibrated rule's docs point at the evidence."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from modelspec.linter import registry
from modelspec.linter.docs import explain
from modelspec.schema.training import OPTIMIZER_MODELS
from tests.conftest import load_script

ROOT = Path(__file__).resolve().parent.parent


def _study():
    return load_script("calibration", ROOT / "benchmarks" / "calibration.py")


def _variant(label, accuracies, losses, findings=()):
    """A variant as compare's results JSON has it: one run per seed, each with one row per epoch."""
    runs = [
        {"seed": seed, "epochs": [{"val_accuracy": acc, "val_loss": value} for acc, value in zip(accs, loss)]}
        for seed, (accs, loss) in enumerate(zip(accuracies, losses), 1)
    ]
    return {"label": label, "runs": runs, "findings": [{"code": c, "level": v} for c, v in findings]}


def _cell(study, regression=False):
    spec = {"name": "t", "training": {"epochs": 4}}
    return study.Cell("lr", "group", spec, "digits", "f=a,b,c", "f=a", regression=regression)


def test_a_variant_twice_as_slow_to_the_target_is_degraded():
    study = _study()
    hinted = _variant("f=a", [[0.5, 0.9, 0.95, 0.96]] * 2, [[1.0, 0.4, 0.3, 0.3]] * 2)
    slow = _variant("f=b", [[0.1, 0.3, 0.5, 0.9]] * 2, [[2.0, 1.5, 1.0, 0.31]] * 2, [("MS303", "warning")])
    near = _variant("f=c", [[0.3, 0.7, 0.9, 0.95]] * 2, [[1.1, 0.5, 0.3, 0.3]] * 2)
    rows = {r["label"]: r for r in study.judge(_cell(study), [hinted, slow, near])}
    assert rows["f=a"]["epochs_to_target"] == 2 and not rows["f=a"]["degraded"]  # 0.9 >= 0.9 × 0.96 at epoch 2
    assert rows["f=b"]["epochs_to_target"] == 4 and rows["f=b"]["slower"] and rows["f=b"]["degraded"]
    assert rows["f=b"]["findings"] == ["MS303:warning"] and not rows["f=b"]["worse"]
    assert rows["f=c"]["epochs_to_target"] == 3 and not rows["f=c"]["degraded"]  # 1.5x: not slower


def test_a_seed_that_never_reaches_the_target_counts_beyond_the_run_and_nan_is_worse():
    study = _study()
    hinted = _variant("f=a", [[0.9, 0.95, 0.96, 0.96]], [[0.4, 0.3, 0.3, 0.3]])
    stuck = _variant("f=b", [[0.1, 0.1, 0.1, 0.1]], [[2.3, 2.3, 2.3, 2.3]])
    diverged = _variant("f=c", [[0.1, 0.1, 0.1, 0.1]], [[math.nan] * 4])
    rows = {r["label"]: r for r in study.judge(_cell(study), [hinted, stuck, diverged])}
    assert rows["f=b"]["epochs_to_target"] == 5 and rows["f=b"]["degraded"]
    assert rows["f=c"]["worse"] and math.isnan(rows["f=c"]["val_loss"])


def test_regression_is_judged_by_a_relative_loss_margin():
    study = _study()
    hinted = _variant("f=a", [[0.0] * 4], [[1.0, 0.5, 0.2, 0.2]])
    close = _variant("f=b", [[0.0] * 4], [[1.0, 0.6, 0.3, 0.24]])  # 20% worse: within the margin
    worse = _variant("f=c", [[0.0] * 4], [[1.0, 0.9, 0.8, 0.26]])  # 30% worse
    rows = {r["label"]: r for r in study.judge(_cell(study, regression=True), [hinted, close, worse])}
    assert not rows["f=b"]["degraded"] and rows["f=c"]["degraded"] and rows["f=c"]["epochs_to_target"] is None


def _table() -> dict[str, list[str]]:
    """docs/calibration.md's threshold table: code -> its cells (rule, level, threshold, evidence kind, evidence,
    what happens where it fires)."""
    text = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    section = text.split("## Thresholds and their evidence", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| (MS\d{3})\b", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} has two rows"
            rows[match.group(1)] = [cell.strip() for cell in line.strip("|").split("|")]
    return rows


GRADED = tuple(code for code, rule in registry.RULES.items() if rule.level.value != "info")
ROWS = tuple(_table())
KINDS = ("measured", "refused", "ignored")  # trained with compare; Keras/the runtime refuses; Keras drops it


@pytest.mark.parametrize("code", GRADED)
def test_every_warning_and_error_rule_has_a_row(code):
    assert code in ROWS, f"{code} ({registry.RULES[code].level.value}) has no row in docs/calibration.md's table"


@pytest.mark.parametrize("code", ROWS)
def test_the_threshold_table_says_what_the_rule_does(code):
    rule = registry.RULES[code]
    cells = _table()[code]
    assert cells[1] == rule.level.value, f"{code}: the table says {cells[1]}, the rule is {rule.level.value}"
    for name, value in rule.options.items():
        assert f"{name} = {value:g}" in cells[2], cells[2]
    kind, evidence = cells[3], cells[4]
    assert kind.split()[0] in KINDS, kind
    if kind.startswith("measured"):  # a figure, the table of runs, or the benchmark that measured it
        assert re.search(r"calibration[\w-]*/[\w.-]+\.(png|md)|calibration[\w-]*\.md|benchmarks/[\w/]+\.py", evidence)
    for path in re.findall(r"((?:benchmarks|tests)/[\w/]+\.py)", evidence):
        assert (ROOT / path).is_file(), path
    for path, name in re.findall(r"(tests/[\w/]+\.py)::(\w+)", evidence):
        assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), f"{path} has no test {name}"
    if not kind.startswith("measured"):
        assert "::" in evidence, f"{code}: a refusal is shown by a test (tests/FILE.py::NAME)"


def test_the_threshold_table_states_each_optimizers_learning_rate_range():
    threshold = _table()["MS303"][2]
    stated = {
        name: (float(low), float(high)) for name, low, high in re.findall(r"(\w+) ([\d.e-]+) to ([\d.e-]+)", threshold)
    }
    assert stated == {
        model.model_fields["type"].annotation.__args__[0]: model.USUAL_LEARNING_RATES for model in OPTIMIZER_MODELS
    }


@pytest.mark.parametrize("code", ROWS)
def test_a_calibrated_rule_documents_its_known_problems_and_evidence(code):
    text = explain(registry.RULES[code])
    assert "## Known problems" in text and "docs/calibration.md" in text


def test_a_rule_without_known_problems_has_no_empty_section():
    bare = next(rule for rule in registry.RULES.values() if not rule.docs.known_problems)
    assert "## Known problems" not in explain(bare)


FAMILY_RULES = {"constant": {"MS101"}, "he": {"MS102"}, "selu": {"MS104"}, "mean": {"MS105"}, "seed": {"MS108"},
                "gradient": {"MS113", "MS114"}, "double": {"MS201"}, "softmax": {"MS203"}, "units": {"MS302"},
                "head": {"MS301"}}  # fmt: skip


def test_each_study_varies_what_its_rule_flags_against_what_it_does_not():
    """Every flagged variant of the other families gets its rule's finding and the hinted variant does not (frozen
    layers excepted: MS402 needs a `pretrained:` block), so the study measures the case the rule reports."""
    import yaml

    from modelspec.linter.config import LintConfig
    from modelspec.linter.runner import run
    from modelspec.loader import load_spec
    from modelspec.variants import variants

    study = _study()
    for cell in study.new_cells(set(study.NEW_FAMILIES), 2, "binary.npz", "one_hot.npz"):
        if cell.family not in FAMILY_RULES:
            continue
        for variant in variants(load_spec(yaml.safe_dump(cell.spec)), [cell.vary]):
            codes = {d.code for d in run(variant.model, LintConfig())}
            hinted = variant.label == cell.hinted
            assert bool(codes & FAMILY_RULES[cell.family]) is not hinted, (cell.spec["name"], variant.label, codes)
