"""load_spec: YAML (file, text or dict) -> validated, analysed spec, or a SpecError listing every problem."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from pydantic import ValidationError

from modelspec import blocks, composition, source
from modelspec.analysis import Analysis, analyse
from modelspec.diagnostics import SpecError
from modelspec.errors import SettingsError
from modelspec.schema import Spec, with_defaults
from modelspec.validation_errors import validation_diagnostics


@dataclass
class ModelSpec:
    """A loaded spec: the validated model, where it came from, and its analysis."""

    spec: Spec
    document: source.Document
    analysis: Analysis

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def folder(self) -> Path:
        """The folder relative paths in the spec (pretrained weights) are resolved against."""
        return Path(self.path).parent if not self.path.startswith("<") else Path.cwd()


def load_spec(spec: Union[str, os.PathLike, dict, ModelSpec], *, limits: Optional[source.Limits] = None) -> ModelSpec:
    """Load a spec from a path, a YAML string or a dict; raise ``SpecError`` with every problem found.

    A ``str`` is read as a path when it names an existing file or ends in ``.yaml``/``.yml``, else as YAML text.
    """
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, dict):
        doc = source.Document(path="<dict>", text="", data=spec)
    elif isinstance(spec, os.PathLike) or (isinstance(spec, str) and _looks_like_path(spec)):
        doc = source.read(spec, limits)
    elif isinstance(spec, str):
        doc = source.parse(spec, "<string>", limits)
    else:
        raise TypeError(f"load_spec takes a path, a YAML string or a dict (received: {type(spec).__name__})")
    return from_document(doc, limits)


SPEC_SUFFIXES = (".yaml", ".yml")


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and (text.endswith(SPEC_SUFFIXES) or os.path.isfile(text))


def spec_files(paths: Iterable[Union[str, os.PathLike]]) -> list[Path]:
    """Return the spec files named by ``paths``: files as given, folders as every *.yaml / *.yml below them
    (sorted; hidden folders such as .git and .venv skipped). `validate` and `lint` take paths the same way.

    Raises:
        SettingsError: a folder holds no spec file (a typo in CI would otherwise check nothing).
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            files.append(path)
            continue
        found = []
        for folder, subfolders, names in os.walk(path):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            found += [Path(folder, name) for name in names if name.endswith(SPEC_SUFFIXES)]
        if not found:
            raise SettingsError(f"no .yaml or .yml files under {path}")
        files += sorted(found)
    return files


def from_document(doc: source.Document, limits: Optional[source.Limits] = None) -> ModelSpec:
    """Validate and analyse a parsed document; raise ``SpecError`` with its reading problems and every other one.

    The spec is first merged into the one it extends (``composition.compose``) and its blocks are expanded
    (``blocks.expand``): everything after reads the flat layers. ``limits`` (default ``Limits.from_env()``) bound
    the files read and the expansion.
    A duplicate key (``doc.problems``) does not hide the rest: the file is validated with the key's first value,
    and the duplicate is reported in line order among the validation or analysis errors.
    """
    found = []
    try:
        doc = blocks.expand(composition.compose(doc, limits), limits)
        spec = Spec.model_validate(doc.data)
        analysed = ModelSpec(spec, doc, analyse(with_defaults(spec), doc))
        if doc.repeats:
            found = blocks.repeat_problems(doc, analysed.analysis)
    except ValidationError as exc:
        found = validation_diagnostics(exc, doc)
    except SpecError as exc:
        found = exc.diagnostics
    if doc.problems or found:
        raise SpecError(doc.problems + found) from None
    return analysed
