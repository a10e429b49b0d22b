"""Write files atomically: into a temporary file beside the target, then one rename. A failed or interrupted
write never leaves a partial file behind and never touches the previous version."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional, Union

from modelspec.errors import SettingsError

PathLike = Union[str, os.PathLike]


@contextmanager
def replacing(path: PathLike, suffix: str = "") -> Iterator[str]:
    """Yield the name of a new temporary file in ``path``'s folder; when the block ends without an error, rename
    it over ``path`` (with the mode a plain ``open`` would give), otherwise delete it."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".modelspec-", suffix=suffix, dir=folder)
    os.close(handle)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp made it private
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with (
        replacing(path, os.path.splitext(os.fspath(path))[1]) as temporary,
        open(temporary, "w", encoding="utf-8") as handle,
    ):
        handle.write(text)


def writable(
    path: Optional[PathLike], option: str, suffix: Union[str, tuple[str, ...], None] = None, here: bool = True
) -> Optional[Path]:
    """Check, before any work starts, that a file can be written at ``path`` (the value of ``option``): its name ends
    in ``suffix`` (or one of several), it is no folder, and its folder exists. Every output of every command goes
    through this check; ``here`` False checks the name only (a worker of a cluster that leaves the writing to the
    chief). ``None`` (no such output asked for) is returned as it is.

    Raises:
        SettingsError: naming the option, the problem and the path received.
    """
    if path is None:
        return None
    path = Path(path)
    suffixes = (suffix,) if isinstance(suffix, str) else suffix
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise SettingsError(f"{option}: the file name must end in {' or '.join(suffixes)} (received: {path})")
    if not here:
        return path
    if path.is_dir():
        raise SettingsError(f"{option}: {path} is a folder, not a file (received: {path})")
    if not path.parent.resolve().is_dir():
        raise SettingsError(f"{option}: folder {str(path.parent)!r} does not exist (received: {path})")
    return path


def writable_folder(path: Path, option: str) -> Path:
    """Check, before any work starts, that files can be created in the folder ``path`` (the value of ``option``),
    by creating and removing an empty probe file there: a read-only file system, a folder without write permission
    or a full inode table is found now, not after the first epoch.

    Raises:
        SettingsError: naming the option, the folder and the system's reason.
    """
    try:
        handle, probe = tempfile.mkstemp(prefix=".modelspec-probe-", dir=path)
    except OSError as exc:
        raise SettingsError(f"{option}: cannot write in {path}: {exc.strerror or exc}") from None
    os.close(handle)
    os.unlink(probe)
    return path
