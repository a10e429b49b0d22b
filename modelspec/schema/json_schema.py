"""The JSON Schema of the spec format (`modelspec schema`, modelspec.schema.json), for editors."""

from __future__ import annotations

from modelspec.schema.spec import Spec


def json_schema() -> dict:
    """Return the spec's JSON Schema with its dialect and a title."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "modelspec spec, format version 1"
    return schema
