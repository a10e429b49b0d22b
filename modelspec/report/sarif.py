"""SARIF 2.1.0 for code scanning (GitHub and others): the rules as the driver's rules, findings as results."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import TextIO
from urllib.parse import quote

from modelspec import __version__
from modelspec.diagnostics import Level
from modelspec.linter import registry

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "note"}


def _descriptors() -> list[dict]:
    rules = [
        {
            "id": code,
            "name": name,
            "shortDescription": {"text": f"{name}: structural check, always on"},
            "defaultConfiguration": {"level": "error"},
        }
        for code, name in registry.STRUCTURAL.items()
    ]
    for rule in registry.RULES.values():
        help_text = "\n\n".join(f"{title}\n{text}" for title, text in rule.docs.sections())
        rules.append(
            {
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.docs.what},
                "help": {"text": help_text},
                "defaultConfiguration": {"level": _LEVELS[rule.level]},
            }
        )
    return rules


def _uri(path: str) -> str:
    return quote(PurePath(path).as_posix(), safe="/:")


def document(result) -> dict:
    """Return the SARIF log as a dict."""
    rules = _descriptors()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for d in result.diagnostics:
        text = d.message + (f" (hint: {d.hint})" if d.hint else "")
        entry = {
            "ruleId": d.code,
            "level": _LEVELS[d.level],
            "message": {"text": text},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(d.path)},
                        "region": {"startLine": d.line, "startColumn": d.column},
                    }
                }
            ],
        }
        if d.code in index:
            entry["ruleIndex"] = index[d.code]
        if d.layer:
            entry["locations"][0]["logicalLocations"] = [{"name": d.layer, "kind": "member"}]
        if d.uses:
            entry["relatedLocations"] = [
                {
                    "id": number,
                    "message": {"text": use.format()},
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(use.path)},
                        "region": {"startLine": use.line, "startColumn": use.column},
                    },
                }
                for number, use in enumerate(d.uses)
            ]
        results.append(entry)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {"tool": {"driver": {"name": "modelspec", "version": __version__, "rules": rules}}, "results": results}
        ],
    }


def render(result, stream: TextIO, *, color: bool = False) -> None:
    """Write the SARIF log."""
    json.dump(document(result), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
