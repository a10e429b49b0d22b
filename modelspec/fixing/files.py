"""`lint --fix` over files: read each spec once, fix its text, and write it back atomically only when nobody
changed the file in between; or show the change as a unified diff and write nothing."""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from modelspec import atomic, source
from modelspec.diagnostics import Diagnostic, SpecError
from modelspec.errors import SettingsError
from modelspec.fixing.engine import FixResult, fix
from modelspec.linter.config import LintConfig
from modelspec.linter.runner import DEFAULT_CONFIG, is_spec
from modelspec.loader import spec_files

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class FileFix:
    """One file's fixing: the bytes read, and the result (None when the file is not a valid spec: ``diagnostics``
    then holds its errors, as lint reports them, and nothing is fixed)."""

    path: Path
    raw: bytes
    result: Optional[FixResult]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def changed(self) -> bool:
        return self.result is not None and self.result.changed

    def diff(self) -> str:
        """The change as a unified diff (``--- a/PATH`` / ``+++ b/PATH``); empty when nothing changed."""
        if not self.changed:
            return ""
        name = self.path.as_posix().lstrip("/")
        return "".join(
            difflib.unified_diff(
                self.result.original.splitlines(keepends=True),
                self.result.text.splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        )


def fix_file(path: Union[str, os.PathLike], config: LintConfig = DEFAULT_CONFIG, unsafe: bool = False) -> FileFix:
    """Read and fix one spec file (nothing is written: see ``write``)."""
    path = Path(path)
    limits = source.Limits.from_env()
    try:
        with open(path, "rb") as handle:
            raw: Optional[bytes] = handle.read(limits.max_bytes + 1)
    except OSError:
        raw = None
    try:
        if raw is None or len(raw) > limits.max_bytes or b"\x00" in raw:
            source.read(path, limits)  # raises, with every reading error exactly as lint reports it
        text = source.decode(raw, str(path))
        result = fix(text, path=str(path), unsafe=unsafe, config=config)
    except SpecError as exc:
        return FileFix(path, raw or b"", None, tuple(exc.diagnostics))
    return FileFix(path, raw, result, result.remaining)


def fix_paths(
    paths: Iterable[Union[str, os.PathLike]],
    config: LintConfig = DEFAULT_CONFIG,
    *,
    unsafe: bool = False,
    specs_only: bool = False,
) -> Iterator[FileFix]:
    """Fix every spec under ``paths`` (files, or folders as `lint` reads them), one file at a time, each once
    (a file named twice is fixed once); nothing is written (the caller writes each before the next is read).

    Raises ``SettingsError`` when a folder holds no spec file.
    """
    seen: set[str] = set()
    for path in spec_files(paths):
        key = os.path.realpath(path)
        if key in seen or (specs_only and not is_spec(path)):
            continue
        seen.add(key)
        yield fix_file(path, config, unsafe)


def write(fixed: FileFix) -> None:
    """Write a fixed file back, atomically, keeping its permissions and a byte-order mark it had (a symbolic link
    stays a link: its target is rewritten).

    Raises ``SettingsError`` when the file's bytes changed on disk since they were read (it is not overwritten).
    """
    if not fixed.changed:
        return
    try:
        with open(fixed.path, "rb") as handle:
            now = handle.read(len(fixed.raw) + 1)
    except OSError as exc:
        raise SettingsError(f"{fixed.path}: cannot read it again before writing: {exc.strerror or exc}") from None
    if now != fixed.raw:
        raise SettingsError(f"{fixed.path}: the file changed on disk since it was read; not overwritten (run again)")
    text = fixed.result.text
    target = Path(os.path.realpath(fixed.path))  # a symbolic link stays one: its target is rewritten
    mode = stat.S_IMODE(os.stat(target).st_mode)
    with atomic.replacing(target, target.suffix) as temporary, open(temporary, "wb") as handle:
        handle.write((_BOM if fixed.raw.startswith(_BOM) else b"") + text.encode("utf-8"))
    os.chmod(target, mode)  # the file keeps its permissions
