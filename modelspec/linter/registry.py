"""The one table of lint rules, by code. Add a rule by writing it in its family's module and listing it here."""

from __future__ import annotations

import re

from modelspec.diagnostics import DATA_MISMATCH, INVALID_SPEC, SHAPE_MISMATCH, UNKNOWN_REFERENCE, did_you_mean
from modelspec.errors import SettingsError
from modelspec.linter.rule import Rule
from modelspec.linter.rules import (
    activation,
    data,
    design,
    distribute,
    export,
    fitting,
    initialization,
    pretrained,
    training,
)

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        initialization.MS101,
        initialization.MS102,
        initialization.MS103,
        initialization.MS104,
        initialization.MS105,
        initialization.MS106,
        initialization.MS107,
        initialization.MS108,
        initialization.MS109,
        initialization.MS110,
        initialization.MS111,
        initialization.MS112,
        initialization.MS113,
        initialization.MS114,
        initialization.MS115,
        initialization.MS116,
        activation.MS201,
        activation.MS202,
        activation.MS203,
        activation.MS204,
        design.MS205,
        design.MS206,
        design.MS207,
        design.MS208,
        training.MS301,
        training.MS302,
        training.MS303,
        fitting.MS304,
        fitting.MS305,
        fitting.MS306,
        fitting.MS307,
        fitting.MS308,
        distribute.MS309,
        distribute.MS310,
        distribute.MS311,
        pretrained.MS401,
        pretrained.MS402,
        pretrained.MS403,
        pretrained.MS404,
        export.MS501,
        export.MS502,
        export.MS503,
        data.MS601,
        data.MS602,
        data.MS603,
        data.MS604,
        data.MS605,
        data.MS606,
    )
}
# The data-aware rules: they judge the data linted with a spec (`lint --data`, the start of `train` and `compare`).
DATA_RULES = frozenset(rule.code for rule in data.RULES)
# Structural checks: reported by validation, always on, never ignorable.
STRUCTURAL = dict((INVALID_SPEC, SHAPE_MISMATCH, UNKNOWN_REFERENCE, DATA_MISMATCH))
_BY_NAME = {rule.name: rule for rule in RULES.values()}
_CODE = re.compile(r"^MS\d{1,3}$")


class UnknownRule(SettingsError, KeyError):
    """A rule code or name that the registry does not know."""

    def __init__(self, word: str, message: str):
        super().__init__(word)
        self.word = word
        self.message = message

    def __str__(self) -> str:
        return self.message


def get(code_or_name: str) -> Rule:
    """Return the rule with this code (MS102) or name (he-on-saturating); raise ``UnknownRule`` otherwise."""
    word = str(code_or_name).strip()
    rule = RULES.get(word.upper()) or _BY_NAME.get(word.lower())
    if rule is not None:
        return rule
    if word.upper() in STRUCTURAL:
        raise UnknownRule(
            word, f"{word.upper()} ({STRUCTURAL[word.upper()]}) is a structural check, not a lint rule: it is always on"
        )
    raise UnknownRule(word, f"unknown rule '{word}'{did_you_mean(word, list(RULES) + list(_BY_NAME))}")


def select(selector: str) -> list[str]:
    """Return the codes a selector names: ``ALL``, a code, a rule name, or a code prefix (``MS1``, ``MS11``);
    raise ``UnknownRule`` for anything else."""
    word = str(selector).strip()
    upper = word.upper()
    if upper == "ALL":
        return list(RULES)
    if upper in STRUCTURAL:
        raise UnknownRule(
            word, f"{upper} ({STRUCTURAL[upper]}) is a structural check: it cannot be selected or ignored"
        )
    if _CODE.match(upper) and upper not in RULES:
        matches = [code for code in RULES if code.startswith(upper)]
        if matches:
            return matches
    return [get(word).code]
