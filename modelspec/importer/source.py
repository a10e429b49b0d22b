"""Read a model's configuration as data: a `.keras` archive's ``config.json`` or a JSON file.

A `.keras` archive is opened with ``zipfile`` and only its ``config.json``, ``metadata.json`` and (for weights,
modelspec/importer/weights.py) ``model.weights.h5`` members are read, after the checks of
``modelspec.pretrained.files`` (declared sizes a zip could not hold are refused before reading). Nothing is
extracted to disk, so member names cannot reach outside the archive; they are refused all the same when they
try (absolute paths, ``..``), and so are duplicate members, as an archive that says two things is not trusted.
JSON is parsed with the standard library (no object hooks): it yields plain dicts, lists and scalars.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from modelspec import archives
from modelspec.importer.problems import refused
from modelspec.pretrained import files
from modelspec.source import Limits

MAX_CONFIG_BYTES = 64 * 1024 * 1024  # the config of a 1,000-layer model is a few MB
# JSON values (counted as commas and opening brackets, before parsing) a config may hold per layer of the layer
# limit: a Keras 3 layer's config holds about 60 to 80; json.loads builds a Python object for each, and 63 MiB of
# `[{},{},...]` (64 KB deflated) cost 1.7 GB of memory before this count refused it.
MAX_VALUES_PER_LAYER = 200
CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"


@dataclass
class ModelSource:
    """A model configuration read from a file, and where its weights are (a `.keras` archive) if anywhere."""

    path: Path
    config: dict
    keras_version: Optional[str] = None
    weights: Optional[Path] = None  # the `.keras` archive holding model.weights.h5


def read_source(path) -> ModelSource:
    """Read a `.keras` archive or a JSON model config; raise ``UnsupportedModel`` when unreadable or hostile."""
    path = Path(path)
    where = str(path)
    problem = archives.regular_file(path)
    if problem is not None:
        raise refused(where, problem)
    suffix = path.suffix.lower()
    with archives.guarded(where, refused, "cannot read"):
        if suffix == ".keras":
            return _read_archive(path)
        if suffix == ".json":
            return ModelSource(path, _parse(where, _read_json_file(path)))
    raise refused(
        where,
        f"expected a .keras archive or a .json model config (model.to_json()) (received: {path.name!r}); "
        "legacy .h5 models: load them in Keras and pass the model to modelspec.from_keras",
    )


def _read_archive(path: Path) -> ModelSource:
    where = str(path)
    with archives.open_zip(path, refused, "a .keras file") as archive:
        _check_names(where, archive)
        config = _parse(where, archive_member(path, archive, CONFIG_MEMBER))
        metadata = _metadata(path, archive)
        has_weights = files.KERAS_MEMBER in archive.namelist()
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    return ModelSource(path, config, version if isinstance(version, str) else None, path if has_weights else None)


def _check_names(where: str, archive: zipfile.ZipFile) -> None:
    names = archive.namelist()
    for name in names:
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            raise refused(where, f"archive member {name!r} names a path outside the archive: refused")
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise refused(where, f"archive holds several members named {duplicates[0]!r}: refused")


def archive_member(path: Path, archive: zipfile.ZipFile, name: str) -> bytes:
    """The bytes of the JSON member ``name``: at most ``MAX_CONFIG_BYTES``, and at most the values
    ``_json_bytes`` allows, both counted while inflating."""
    info = archives.member(path, archive, name, refused)
    return _json_bytes(str(path), archives.member_chunks(path, archive, info, MAX_CONFIG_BYTES, refused))


def _read_json_file(path: Path) -> bytes:
    def chunks():
        with open(path, "rb") as handle:
            while chunk := handle.read(archives.CHUNK):
                yield chunk

    return _json_bytes(str(path), chunks())


def _json_bytes(where: str, chunks: Iterable[bytes]) -> bytes:
    """Join ``chunks`` of JSON text, refusing more than ``MAX_CONFIG_BYTES``, or more values (commas and opening
    brackets, strings included: an overestimate) than ``MAX_VALUES_PER_LAYER`` per layer of the layer limit, as
    soon as the chunks read so far hold too many: ``json.loads`` builds a Python object for each value."""
    limit = MAX_VALUES_PER_LAYER * Limits.from_env().max_layers
    values = size = 0
    parts = []
    for chunk in chunks:
        size += len(chunk)
        values += chunk.count(b",") + chunk.count(b"[") + chunk.count(b"{")
        if size > MAX_CONFIG_BYTES:
            raise refused(where, f"the config is larger than {MAX_CONFIG_BYTES:,} bytes: refused")
        if values > limit:
            raise refused(
                where,
                f"the config holds more than {limit:,} JSON values ({MAX_VALUES_PER_LAYER} for each of the "
                f"{limit // MAX_VALUES_PER_LAYER:,} layers a spec may hold; MODELSPEC_MAX_LAYERS raises it): refused "
                "before parsing",
            )
        parts.append(chunk)
    return b"".join(parts)


def _metadata(path: Path, archive: zipfile.ZipFile) -> Any:
    if METADATA_MEMBER not in archive.namelist():
        return None
    try:
        return json.loads(archive_member(path, archive, METADATA_MEMBER))
    except (ValueError, RecursionError):
        return None  # only the Keras version is read from it, for the header comment


def _parse(where: str, data: bytes) -> dict:
    try:
        value = json.loads(data)
    except RecursionError:
        raise refused(where, "the JSON nests too deeply: refused") from None
    except ValueError as exc:
        raise refused(where, f"not a JSON model config: {exc}") from None
    if not isinstance(value, dict):
        raise refused(where, f"not a Keras model config: the JSON holds a {type(value).__name__}, not an object")
    return value
