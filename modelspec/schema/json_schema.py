"""The JSON Schema of the spec format (`modelspec schema`, modelspec.schema.json), for editors."""

from __future__ import annotations

from modelspec.schema.editor_schema import editor_schema
from modelspec.schema.spec import Spec


def json_schema() -> dict:
    """Return the JSON Schema of a spec file as a person writes it (blocks, uses and `extends:` included), shaped
    for editors (see `modelspec.schema.editor_schema`), with its dialect and a title."""
    schema = editor_schema(Spec.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "modelspec spec, format version 1"
    return schema
