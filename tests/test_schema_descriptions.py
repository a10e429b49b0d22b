"""Every field of the spec format has a real description: they are what `modelspec schema` gives editors to show
on hover, and the docs of the format (STYLE.md: no empty or placeholder field descriptions)."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from modelspec.schema import Spec
from modelspec.schema.initializers import INITIALIZER_MODELS, Constraint, Regularizer
from modelspec.schema.layers import LAYER_MODELS
from modelspec.schema.training import OPTIMIZER_MODELS, Schedule

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(
    r"\b(todo|tbd|fixme|xxx|lorem|ipsum|placeholder|document(ed)? (this|me|later))\b|\?\?", re.IGNORECASE
)


def reachable(annotation, found: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    """Collect every model an annotation may hold, through unions, containers, ``Annotated`` and type aliases."""
    annotation = getattr(annotation, "__value__", annotation)  # a named type alias (TypeAliasType)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        key = f"{annotation.__module__}.{annotation.__qualname__}"
        if key not in found:
            found[key] = annotation
            for field in annotation.model_fields.values():
                reachable(field.annotation, found)
        return found
    for arg in typing.get_args(annotation):  # Annotated's metadata are not types: they add nothing
        reachable(arg, found)
    return found


MODELS = reachable(Spec, {})


def _union_models(alias) -> set[type[BaseModel]]:
    return set(reachable(alias, {}).values())


@pytest.mark.parametrize(
    "listed",
    [
        LAYER_MODELS,
        INITIALIZER_MODELS,
        OPTIMIZER_MODELS,
        _union_models(Regularizer),
        _union_models(Constraint),
        _union_models(Schedule),
    ],
    ids=["layers", "initializers", "optimizers", "regularizers", "constraints", "schedules"],
)
def test_every_model_is_reached_from_the_spec(listed):
    """The walk below sees every layer, initializer, regularizer, constraint, optimizer and schedule model."""
    assert listed and set(listed) <= set(MODELS.values())


FIELDS = [
    pytest.param(model, name, id=f"{model.__name__}.{name}") for model in MODELS.values() for name in model.model_fields
]


def test_there_are_fields_to_check():
    assert len(MODELS) > 70 and len(FIELDS) > 400


@pytest.mark.parametrize(("model", "name"), FIELDS)
def test_every_field_has_a_description(model, name):
    description = model.model_fields[name].description
    assert isinstance(description, str) and description.strip(), f"{model.__name__}.{name} has no description"
    text = description.strip()
    assert not PLACEHOLDER.search(text), f"{model.__name__}.{name}: placeholder description {text!r}"
    assert len(text) >= 8 and text.rstrip(".").lower().replace(" ", "_") != name, (
        f"{model.__name__}.{name}: a description should say more than the name ({text!r})"
    )


def test_every_property_in_the_json_schema_has_a_description():
    """What editors show: every property of every object in modelspec.schema.json, root included."""
    schema = json.loads((ROOT / "modelspec.schema.json").read_text(encoding="utf-8"))
    missing = []

    def visit(node, where):
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                if not (isinstance(value, dict) and str(value.get("description", "")).strip()):
                    missing.append(f"{where}.{key}")
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{where}[{index}]")

    visit(schema, "#")
    assert missing == []
