"""Write files atomically: into a temporary file beside the target, then one rename. A failed or interrupted
write never leaves a partial file behind and never touches the previous version."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Union

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
