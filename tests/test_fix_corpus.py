"""`lint --fix --unsafe-fixes` (through `modelspec.fix`) over every spec the project ships and every rule's docs
example: the three properties of issue 18's point 3 hold on each (tests/fixcheck.py), and on a rule's docs example
the rule's own finding is gone when the rule has a fix, and the fixed example is the docs' "Use instead".

The specs: specs/, the YAML specs of examples/, and the false-alarm corpus (corpus/: Keras applications and keras.io
examples written by others). Each is fixed where it lies, so that `extends:` finds its base.
"""

from __future__ import annotations

import pytest
from conftest import ROOT
from fixcheck import check_all

import modelspec
from modelspec import source
from modelspec.fixing import NONE, applicability
from modelspec.linter.registry import RULES


def shipped_specs() -> list:
    found = sorted((ROOT / "specs").glob("*.yaml"))
    for folder in ("examples", "corpus"):
        for path in sorted((ROOT / folder).rglob("*.y*ml")):
            data = source.read(path).data
            if isinstance(data, dict) and "modelspec" in data:  # a spec, not another YAML file
                found.append(path)
    return found


SHIPPED = shipped_specs()
FIXABLE = sorted(code for code in RULES if applicability(code) != NONE)


def test_the_corpus_is_what_this_file_says():
    folders = {path.relative_to(ROOT).parts[0] for path in SHIPPED}
    assert folders == {"specs", "examples", "corpus"}
    assert len(SHIPPED) > 40


@pytest.mark.parametrize("path", SHIPPED, ids=[str(path.relative_to(ROOT)) for path in SHIPPED])
def test_fixing_a_shipped_spec_keeps_the_three_properties(path):
    check_all(path.read_text(encoding="utf-8"), name=str(path), unsafe=True)


@pytest.mark.parametrize("code", sorted(RULES))
def test_fixing_a_rule_example_keeps_the_three_properties(code):
    check_all(RULES[code].docs.example, name=f"<{code} example>", unsafe=True)


@pytest.mark.parametrize("code", FIXABLE)
def test_a_fixable_rule_fixes_its_own_docs_example(code):
    result = modelspec.fix(RULES[code].docs.example, unsafe=True)
    assert code in {fix.code for fix in result.applied}, result.skipped
    assert code not in {d.code for d in result.remaining}, [d.format() for d in result.remaining]


@pytest.mark.parametrize("code", FIXABLE)
def test_a_fixed_docs_example_is_the_docs_use_instead(code):
    """The same spec once loaded (a value the docs leave to its default may be written out by the fix)."""
    docs = RULES[code].docs
    fixed = modelspec.fix(docs.example, unsafe=True).text
    assert modelspec.load_spec(fixed).spec == modelspec.load_spec(docs.use_instead).spec, fixed
