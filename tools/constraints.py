"""Write constraints.txt from the packages of this environment, or say how this environment differs from it.

`make demo` and `make test` install with `pip install -c constraints.txt`: the versions the whole suite last passed
with, so that a fresh clone gets them and not whatever is newest that day. `make constraints` rewrites the file
from .venv after a passing `make test`; `nox -s newest` runs the suite on the newest releases and, before it,
prints with `--compare` which packages have moved on since the file was written.

    python tools/constraints.py            # write constraints.txt from the running environment
    python tools/constraints.py --compare  # list the packages whose installed version differs from the file
"""

from __future__ import annotations

import platform
import sys
from importlib.metadata import distributions
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

FILE = Path(__file__).resolve().parents[1] / "constraints.txt"
OLDEST_PYTHON = Version("3.10")  # pyproject.toml's requires-python
LEFT_OUT = {"modelspec", "pip", "setuptools", "wheel"}  # the project itself, and what builds environments
HEADER = """\
# The versions `make test` last passed with (the whole suite, ruff, and the nox sessions on Python 3.10 and 3.13),
# taken from .venv on Python {python}; `make demo` and `make test` install with `pip install -c constraints.txt`.
# A release that needs a newer Python than 3.10 is pinned for those Pythons only (the marker); on 3.10 pip picks
# the newest release that supports it. Rewrite with `make constraints` after a passing `make test`;
# `.venv/bin/nox -s newest` runs the suite on the newest releases instead: drift shows up as that session failing.
"""


def installed() -> dict[str, tuple[str, str | None]]:
    """Name -> (version, Requires-Python) of every distribution in this environment but those left out."""
    found = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in LEFT_OUT:
            found[name] = (dist.version, dist.metadata.get("Requires-Python"))
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def line(name: str, version: str, requires_python: str | None) -> str:
    """``name==version``, with a marker when that release cannot be installed on the oldest supported Python."""
    pin = f"{name}=={version}"
    if requires_python and not SpecifierSet(requires_python).contains(OLDEST_PYTHON):
        pin += f'; python_version >= "{_lowest(requires_python)}"'
    return pin


def _lowest(requires_python: str) -> str:
    """The lowest Python a ``Requires-Python`` admits (e.g. ``>=3.11`` -> ``3.11``)."""
    for minor in range(OLDEST_PYTHON.minor, 40):
        if SpecifierSet(requires_python).contains(Version(f"3.{minor}")):
            return f"3.{minor}"
    raise SystemExit(f"no Python 3 release satisfies Requires-Python {requires_python!r}")


def pinned() -> dict[str, str]:
    """Name (lower case) -> version, as constraints.txt pins them."""
    pins = {}
    for text in FILE.read_text(encoding="utf-8").splitlines():
        text = text.split("#", 1)[0].split(";", 1)[0].strip()
        if text:
            name, _, version = text.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def main(argv: list[str]) -> int:
    if argv == ["--compare"]:
        pins = pinned()
        moved = [
            f"  {name}: {pins[name.lower()]} -> {version}"
            for name, (version, _) in installed().items()
            if name.lower() in pins and pins[name.lower()] != version
        ]
        if moved:
            print("Installed versions that differ from constraints.txt:\n" + "\n".join(moved))
        else:
            print("Every installed package is as constraints.txt pins it.")
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    lines = [line(name, version, requires) for name, (version, requires) in installed().items()]
    FILE.write_text(HEADER.format(python=platform.python_version()) + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"Wrote {FILE.name} ({len(lines)} packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
