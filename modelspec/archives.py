"""Reading untrusted files with bounded resources: zip members streamed under a cap, ``.npy`` headers checked
before an array is allocated, and the one place where a reader's low-level exceptions become a located user error.

Every reader of a file that may come from someone else (pretrained weights, `modelspec import`'s `.keras` and
`.json`, training `.npz` files) goes through here, so that the guards are one implementation:

- ``regular_file``: what a path is when it is not a readable regular file (missing, a folder, a named pipe, a
  device, a name the file system refuses), said without opening it (opening a FIFO blocks).
- ``open_zip`` / ``check_member``: a member may inflate to at most ``member_budget(compressed size)`` bytes
  (``MAX_EXPANSION`` times its compressed size, or ``EXPANSION_FLOOR`` for small members), the members of one
  archive together to at most ``member_budget(archive size)``; a STORED member must declare what it stores. The
  declared sizes are checked before a byte is inflated, and ``read_member`` / ``copy_member`` count the bytes while
  streaming, so a member whose data runs past its declared size is refused there too (``zipfile`` also stops at the
  declared size and checks the CRC at the end).
- ``hdf5_member`` / ``copy_member``: an HDF5 member's signature is checked in its first bytes before anything is
  written; a STORED member is then read in place (``Window``), a deflated one from a bounded temporary copy.
- ``npy_header``: an ``.npy`` member's header is parsed, and refused when it declares more bytes than the member
  holds, before NumPy allocates anything.
- ``guarded``: ``OSError``, ``EOFError``, ``zlib.error``, ``BadZipFile``, ``MemoryError``, the ``ValueError``,
  ``KeyError`` and ``RuntimeError`` that NumPy and h5py raise on a corrupt file, and what NumPy's ``.npy`` header
  parser raises on a broken header (``tokenize.TokenError``, ``SyntaxError``, ``OverflowError``) become one-line
  errors naming the file, through the caller's ``Refusal`` (so each reader keeps its own error class). Every reader
  of a file (``.npz`` and ``.npy`` training data, checkpoints, pretrained weights, ``import``) catches them here and
  nowhere else (``UNREADABLE``).

docs/security.md lists the limits. Nothing here imports NumPy at module level.
"""

from __future__ import annotations

import io
import math
import os
import stat
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from modelspec.errors import ModelspecError

# How much one compressed byte may inflate to. Keras writes its archives' members uncompressed, numpy.savez too,
# and numpy.savez_compressed of real data stays well below 20:1; deflate can reach about 1,032:1 (all zeros).
MAX_EXPANSION = 100
EXPANSION_FLOOR = 256 * 1024 * 1024  # a small member may always inflate to this much (256 MiB)
MAX_MEMBERS = 100_000  # members of one archive (a weights .npz holds one per variable)
CHUNK = 1 << 20  # bytes read from a member at a time
READ_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_OFFSETS = (0, 512, 1024, 2048)  # where HDF5 looks for its superblock (after a user block of 512 * 2**n)
NPY_MAGIC = b"\x93NUMPY"
NPY_HEADERS = {(1, 0): "read_array_header_1_0", (2, 0): "read_array_header_2_0", (3, 0): "read_array_header_2_0"}
# What a reader raises on a corrupt or hostile file: the one table (``guarded``). NumPy and h5py raise ValueError,
# KeyError and RuntimeError; NumPy tokenizes and parses an .npy header as Python, so a broken header raises
# tokenize's, the parser's and int()'s errors (tests/test_fuzz_readers.py found each).
UNREADABLE = (OSError, EOFError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile, zlib.error, MemoryError,
              tokenize.TokenError, SyntaxError, OverflowError)  # fmt: skip
MAX_REASON = 300  # characters of a library's message quoted in ours

Refusal = Callable[[str, str], ModelspecError]  # (the file, why) -> the caller's error


def plain(error: type[ModelspecError]) -> Refusal:
    """A ``Refusal`` raising ``error("<file>: <why>")``."""
    return lambda where, why: error(f"{where}: {why}")


def member_budget(compressed: int) -> int:
    """The most bytes ``compressed`` bytes of an archive may inflate to."""
    return max(EXPANSION_FLOOR, MAX_EXPANSION * compressed)


def regular_file(path: os.PathLike | str) -> Optional[str]:
    """Why ``path`` cannot be read as a regular file ("no such file", "a named pipe (FIFO), not a regular file",
    "cannot be read: File name too long"), or None when it can. Symbolic links are followed; nothing is opened."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "no such file"
    except (OSError, ValueError) as exc:  # a name too long, a loop of links, a NUL byte, no permission
        return f"cannot be read: {reason(exc)}"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    return "not a regular file"


def reason(exc: BaseException) -> str:
    """One printable line saying what ``exc`` means (no control characters: a file's bytes may reach the text)."""
    if isinstance(exc, zipfile.BadZipFile):
        text = f"corrupt archive ({exc})"
    elif isinstance(exc, zlib.error):
        text = f"corrupt compressed data ({exc})"
    elif isinstance(exc, MemoryError):
        text = f"it asks for more memory than there is{f' ({exc})' if str(exc) else ''}: refused"
    elif isinstance(exc, (tokenize.TokenError, SyntaxError)):  # NumPy's parser of an .npy header
        text = f"its .npy header does not parse ({exc.args[0] if exc.args else type(exc).__name__})"
    elif isinstance(exc, EOFError):
        text = f"truncated{f' ({exc})' if str(exc) else ''}"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return printable(text)


def printable(text: str) -> str:
    """``text`` on one line, control and format characters escaped, at most ``MAX_REASON`` characters."""
    text = " ".join(text.split())
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


@contextmanager
def guarded(where: str, refusal: Refusal, what: str = "unreadable") -> Iterator[None]:
    """Turn the exceptions of reading a corrupt or hostile file inside the block into ``refusal(where, ...)``;
    user errors raised inside pass through as they are."""
    try:
        yield
    except ModelspecError:
        raise
    except UNREADABLE as exc:
        raise refusal(where, f"{what}: {reason(exc)}") from None


@contextmanager
def open_zip(path: Path, refusal: Refusal, expected: str) -> Iterator[zipfile.ZipFile]:
    """Open ``path`` as a zip archive (``expected`` says what the file should be, for the message); refuse
    archives with more than ``MAX_MEMBERS`` members, one member ``check_member`` refuses, or members that together
    declare more than the archive's budget."""
    try:
        archive = zipfile.ZipFile(path)
    except UNREADABLE as exc:
        with open(path, "rb") as handle:
            zip_like = handle.read(2) == b"PK"
        if not zip_like:
            raise refusal(str(path), f"not a zip archive, which {expected} must be") from None
        detail = printable(str(exc)) if isinstance(exc, zipfile.BadZipFile) else reason(exc)
        raise refusal(str(path), f"a damaged or truncated zip archive ({detail})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise refusal(str(path), f"the archive holds {len(members):,} members, more than {MAX_MEMBERS:,}: refused")
        for info in members:
            check_member(path, info, refusal)
        size = path.stat().st_size
        total = sum(info.file_size for info in members)
        if total > member_budget(size):
            raise refusal(
                str(path),
                f"its members declare {total:,} bytes in all, more than {member_budget(size):,} for a "
                f"{size:,}-byte archive: refused",
            )
        yield archive


def member(path: Path, archive: zipfile.ZipFile, name: str, refusal: Refusal) -> zipfile.ZipInfo:
    """The member ``name`` of ``archive``, checked (``check_member``)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise refusal(str(path), f"the archive holds no {name}") from None
    check_member(path, info, refusal)
    return info


def check_member(path: Path, info: zipfile.ZipInfo, refusal: Refusal) -> None:
    """Refuse a member no honest archive of this size holds: encrypted, compressed with a method other than
    deflate, a compressed size past the archive's, a STORED member whose two sizes differ, or more inflated bytes
    than ``member_budget`` allows its compressed size (a zip bomb)."""
    archive_size = path.stat().st_size
    name = info.filename
    if info.flag_bits & 0x1:
        raise refusal(str(path), f"archive member {name!r} is encrypted: refused")
    if info.compress_type not in READ_METHODS:
        raise refusal(
            str(path),
            f"archive member {name!r} is compressed with zip method {info.compress_type}: only stored and "
            "deflated members are read",
        )
    if info.compress_size > archive_size:
        raise refusal(
            str(path),
            f"archive member {name!r} declares {info.compress_size:,} compressed bytes in a "
            f"{archive_size:,}-byte file: refused",
        )
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise refusal(
            str(path),
            f"archive member {name!r} is stored uncompressed but declares {info.file_size:,} bytes for the "
            f"{info.compress_size:,} it stores: refused",
        )
    if info.file_size > member_budget(info.compress_size):
        raise refusal(
            str(path),
            f"archive member {name!r} declares {info.file_size:,} bytes from {info.compress_size:,} compressed "
            f"bytes in a {archive_size:,}-byte file (more than {MAX_EXPANSION}:1 past "
            f"{EXPANSION_FLOOR:,} bytes): refused",
        )


def member_chunks(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, refusal: Refusal):
    """Yield the inflated bytes of a checked member, at most ``min(cap, declared size)`` of them: one byte more
    is refused (the stream is never trusted to end where its header says)."""
    limit = min(cap, info.file_size)
    if info.file_size > cap:
        raise refusal(
            str(path), f"archive member {info.filename!r} declares {info.file_size:,} bytes, more than {cap:,}: refused"
        )
    with guarded(str(path), refusal, f"archive member {info.filename!r} is unreadable"), archive.open(info) as handle:
        seen = 0
        while chunk := handle.read(min(CHUNK, limit - seen + 1)):
            seen += len(chunk)
            if seen > limit:
                raise refusal(
                    str(path), f"archive member {info.filename!r} holds more than the {limit:,} bytes it declares"
                )
            yield chunk


def read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, refusal: Refusal) -> bytes:
    """The inflated bytes of a checked member, at most ``cap`` of them (more is refused while streaming)."""
    return b"".join(member_chunks(path, archive, info, cap, refusal))


def copy_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, refusal: Refusal) -> None:
    """Write a checked HDF5 member to ``target``: its superblock signature is checked in the first bytes, before
    anything is written, and never more bytes than it declares are copied."""
    chunks = member_chunks(path, archive, info, info.file_size, refusal)
    first = next(chunks, b"")
    head = first
    while len(head) < HDF5_OFFSETS[-1] + len(HDF5_SIGNATURE) and (more := next(chunks, b"")):
        head += more
    if not any(head[offset : offset + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE for offset in HDF5_OFFSETS):
        raise refusal(str(path), f"archive member {info.filename!r} is not an HDF5 file")
    with open(target, "wb") as handle:
        handle.write(head)
        for chunk in chunks:
            handle.write(chunk)


class Window(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes of a file from ``start``: a STORED member read in place, where
    ``zipfile`` (before Python 3.12) answers each backward seek by reading the member again from its start."""

    def __init__(self, path: Path, start: int, size: int):
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 (closed with the window)
        self._start, self._size, self._position = start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._position))
        self._file.seek(self._start + self._position)
        read = self._file.readinto(memoryview(buffer)[:count])
        self._position += read
        return read

    def close(self) -> None:
        self._file.close()
        super().close()


def hdf5_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, folder: Path, refusal: Refusal):
    """A seekable file of a checked HDF5 member, for h5py: a STORED member is read in place (a ``Window``); a deflated
    one is first copied to ``folder`` (``copy_member``: its signature checked, its size bounded), because h5py's seeks
    on a deflate stream re-inflate it from the start each time it goes backwards. The caller closes it."""
    if info.compress_type == zipfile.ZIP_DEFLATED:
        target = folder / "member.h5"
        copy_member(path, archive, info, target, refusal)
        return open(target, "rb")  # noqa: SIM115 (the caller closes it)
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise refusal(str(path), f"archive member {info.filename!r} has no local header where the directory says")
    name_length, extra_length = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    if start + info.file_size > path.stat().st_size:
        raise refusal(str(path), f"archive member {info.filename!r} runs past the end of the file")
    window = Window(path, start, info.file_size)
    if not has_hdf5_signature(window):
        window.close()
        raise refusal(str(path), f"archive member {info.filename!r} is not an HDF5 file")
    return window


def has_hdf5_signature(handle) -> bool:
    """Whether a seekable stream starts like an HDF5 file (its position is restored to 0)."""
    head = handle.read(HDF5_OFFSETS[-1] + len(HDF5_SIGNATURE))
    handle.seek(0)
    return any(head[offset : offset + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE for offset in HDF5_OFFSETS)


@dataclass(frozen=True)
class NpyMember:
    """One checked ``.npy`` member of an ``.npz``: its key (the name without ``.npy``), shape and dtype."""

    info: zipfile.ZipInfo
    key: str
    shape: tuple[int, ...]
    dtype: Any


def npy_members(path: Path, archive: zipfile.ZipFile, refusal: Refusal) -> Iterator[NpyMember]:
    """Each member of an ``.npz`` after ``check_member`` and its ``.npy`` header: the header must parse, and its
    shape and dtype may not declare more bytes than the member holds. Nothing is allocated for the data."""
    for info in archive.infolist():
        yield npy_member(path, archive, info, refusal)


def npy_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, refusal: Refusal) -> NpyMember:
    """One member of an ``.npz`` after ``check_member`` and its ``.npy`` header (as ``npy_members``)."""
    check_member(path, info, refusal)
    key = info.filename.removesuffix(".npy")
    shape, dtype = npy_header(path, archive, info, refusal)
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size:
        raise refusal(
            str(path), f"{key} declares {declared:,} bytes ({list(shape)}) in a {info.file_size:,}-byte member: refused"
        )
    return NpyMember(info, key, shape, dtype)


def npy_header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, refusal: Refusal) -> tuple[tuple, Any]:
    """The (shape, dtype) an ``.npy`` member's header declares; refuse a member that is not one."""
    import numpy as np

    where = f"member {info.filename!r} is not a NumPy array"
    with guarded(str(path), refusal, f"member {info.filename!r} is unreadable"), archive.open(info) as handle:
        if handle.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise refusal(str(path), f"{where}: it does not start with NumPy's magic string")
        version = (handle.read(1) or b"\0")[0], (handle.read(1) or b"\0")[0]
        reader = NPY_HEADERS.get(version)
        if reader is None:
            raise refusal(str(path), f"{where}: unknown .npy format version {version}")
        shape, _, dtype = getattr(np.lib.format, reader)(handle)
    return tuple(int(d) for d in shape), dtype


def read_npy(path: Path, archive: zipfile.ZipFile, item: NpyMember, refusal: Refusal) -> Any:
    """Read one checked ``.npy`` member into memory (``allow_pickle=False``); at most its declared size."""
    import numpy as np

    with guarded(str(path), refusal, f"array {item.key!r} is unreadable"), archive.open(item.info) as handle:
        return np.lib.format.read_array(handle, allow_pickle=False)
