"""The rules against their fixtures (tests/rules/MSxxx.yaml), their docs, and the README's rules table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from modelspec import lint
from modelspec.cli import cli
from modelspec.linter import registry
from modelspec.linter.docs import END, START, explain, rules_markdown, rules_table

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "rules"


@pytest.fixture(autouse=True)
def _weights_file(tmp_path, monkeypatch):
    """Specs given as text resolve `pretrained.path` against the current folder: give them one holding
    `base.weights.h5` (MS401 checks only that it exists), so the pretrained rules' examples need no real file."""
    (tmp_path / "base.weights.h5").touch()
    monkeypatch.chdir(tmp_path)


def _cases():
    for path in sorted(FIXTURES.glob("MS*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["rule"] == path.stem
        for case in data["cases"]:
            yield pytest.param(path.stem, case, id=f"{path.stem}: {case['name']}")


def _data(text, tmp_path, name="data.csv"):
    """A data-aware rule's fixture or example data (CSV text) as a file to lint with; None without data."""
    if text is None:
        return None
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("code", "case"), list(_cases()))
def test_fixture(code, case, tmp_path):
    if case.get("data"):
        pytest.importorskip("numpy", reason="data-aware rules read the data with NumPy")
    found = [d for d in lint(case["spec"], data=_data(case.get("data"), tmp_path)) if d.code == code]
    assert [f"{d.line}:{d.column}" for d in found] == case["expect"], "\n".join(d.format() for d in found)
    if case.get("message"):
        assert case["message"] in found[0].message
    for diagnostic in found:  # a case calibrated as harmless says its lower level (`level:`)
        assert diagnostic.level.value == case.get("level", registry.RULES[code].level.value), diagnostic.format()
        assert diagnostic.name == registry.RULES[code].name
        assert diagnostic.message and diagnostic.hint


@pytest.mark.parametrize("code", list(registry.RULES))
def test_every_rule_has_failing_and_passing_fixtures(code):
    path = FIXTURES / f"{code}.yaml"
    assert path.exists(), f"{code} has no fixture file"
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    assert any(case["expect"] for case in cases), f"{code}: no failing case"
    assert any(not case["expect"] for case in cases), f"{code}: no passing case"


@pytest.mark.parametrize("code", list(registry.RULES))
def test_docs_have_every_section(code):
    rule = registry.RULES[code]
    assert rule.code == code and rule.name == rule.name.lower() and " " not in rule.name
    for title, text in rule.docs.sections():
        assert text.strip(), f"{code}: empty section {title!r}"
        assert "TODO" not in text and "TBD" not in text
    assert rule.summary


@pytest.mark.parametrize("code", list(registry.RULES))
def test_example_triggers_exactly_its_rule(code, tmp_path):
    rule = registry.RULES[code]
    docs = rule.docs
    if docs.data:
        pytest.importorskip("numpy", reason="data-aware rules read the data with NumPy")
    data = _data(docs.data or None, tmp_path)  # a data-aware rule's example is linted with its data (--data)
    fixed = _data(docs.use_instead_data, tmp_path, "fixed.csv") or data
    assert {d.code for d in lint(docs.example, data=data)} == {code}
    assert lint(docs.use_instead, data=fixed) == []


@pytest.mark.parametrize("code", ["MS102", "he-on-saturating"])
def test_rules_command_explains_one_rule(code):
    result = CliRunner().invoke(cli, ["rules", code], catch_exceptions=False)
    assert result.exit_code == 0
    rule = registry.RULES["MS102"]
    for title, _ in rule.docs.sections():
        assert f"## {title}" in result.output
    assert rule.docs.example.rstrip("\n") in result.output
    assert "He et al." in result.output or "He, Zhang" in result.output


def test_rules_command_lists_every_rule():
    result = CliRunner().invoke(cli, ["rules"], catch_exceptions=False)
    assert result.exit_code == 0
    for code, rule in registry.RULES.items():
        assert code in result.output and rule.name in result.output


def test_rules_command_rejects_an_unknown_code():
    result = CliRunner().invoke(cli, ["rules", "MS1O2"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "unknown rule 'MS1O2'; did you mean" in result.output


def test_registry_get_fails_clearly():
    assert registry.get("pretrained-file-missing") is registry.RULES["MS401"]
    with pytest.raises(registry.UnknownRule, match="structural"):
        registry.get("MS001")
    assert registry.get("glorot-on-relu") is registry.RULES["MS103"]


def test_references_cite_the_papers():
    docs = "\n".join(rule.docs.references for rule in registry.RULES.values())
    for paper in ("Glorot & Bengio (2010)", "He, Zhang, Ren & Sun (2015)", "Klambauer", "Saxe"):
        assert paper in docs


def test_readme_rules_table_is_in_sync():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme, "README.md lacks the rules-table markers"
    section = readme[readme.index(START) + len(START) : readme.index(END)]
    assert section.strip() == rules_table().strip(), "README rules table is stale: run `make rules-table`"


def test_docs_rules_md_is_in_sync():
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_markdown(), (
        "docs/rules.md is stale: run `make rules-table`"
    )


def test_explain_shows_thresholds():
    assert "vanishing-scale = 0.01" in explain(registry.RULES["MS110"])
