"""Property tests: whatever the input, reading a spec gives a valid spec or a ``SpecError`` whose diagnostics all
carry a location, never another exception; and the CLI exits only with 0, 1 or 2.

Inputs: arbitrary YAML documents (data dumped as YAML, and soups of YAML syntax), arbitrary text and bytes, and
random mutations of the specs in specs/ (of their data and of their text). Examples are bounded so the whole
file runs in well under a minute on two cores.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from conftest import SPECS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelspec import SpecError, source
from modelspec.cli import cli
from modelspec.loader import from_document, load_spec

BOUNDED = settings(max_examples=120, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
SPEC_TEXTS = {path.name: path.read_text(encoding="utf-8") for path in SPECS}


def check_text(text: str, name: str = "<fuzz>") -> None:
    """Parse, validate and analyse ``text``; only a SpecError with located diagnostics may come out."""
    try:
        from_document(source.parse(text, name))
    except SpecError as exc:
        check_diagnostics(exc, text, name)


def check_diagnostics(exc: SpecError, text: str, name: str) -> None:
    assert exc.diagnostics, "a SpecError must hold at least one diagnostic"
    last_line = text.count("\n") + text.count("\r") + 2
    for diagnostic in exc.diagnostics:
        assert diagnostic.path == name
        assert 1 <= diagnostic.line <= last_line, diagnostic
        assert diagnostic.column >= 1, diagnostic
        assert diagnostic.message and diagnostic.level == "error"
        assert "\n" not in diagnostic.message and "\x1b" not in diagnostic.message, diagnostic


# --- strategies --------------------------------------------------------------------------------------------------

WORDS = [
    "modelspec",
    "layers",
    "type",
    "dense",
    "units",
    "input",
    "shape",
    "name",
    "activation",
    "relu",
    "inputs",
    "outputs",
    "seed",
    "keras",
    "class_name",
    "config",
    "Lambda",
    "dropout",
    "rate",
    "kernel_initializer",
    "conv2d",
    "filters",
    "kernel_size",
    "add",
    "training",
    "loss",
    "optimizer",
    "yes",
    "no",
    "on",
    "null",
    "~",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=12)
)
keys = st.sampled_from(WORDS) | st.text(max_size=8)
yaml_data = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5), max_leaves=25
)

# Pieces of YAML syntax, including the dangerous ones, glued at random: hits the parser's own error paths.
TOKENS = [
    "\n",
    "  ",
    "- ",
    ": ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "!!python/object:os.system ",
    "!!str ",
    "!!int ",
    "!!float ",
    "!!binary ",
    "!local ",
    "<<: ",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%TAG ! x\n",
    "# c\n",
    "|\n",
    ">-\n",
    "'q'",
    '"\\x1b"',
    '"\\n"',
    '"\\u202e"',
    "010",
    "0o17",
    "0x1F",
    "1:30",
    "1e999",
    ".nan",
    "-.inf",
    "9" * 80,
    "yes",
    "true",
    "null",
    "modelspec: 1\n",
    "layers:\n",
    "  - type: dense\n",
    "    units: 3\n",
    "input: {shape: [4]}\n",
    "\t",
    "\ufeff",
    "é",
    "\x85",
]
soups = st.lists(st.sampled_from(TOKENS) | st.sampled_from(WORDS), max_size=40).map("".join)


def paths_in(data, prefix=()):
    """Every path to a node of ``data`` (the root included)."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths_in(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths_in(value, prefix + (index,))


def mutate(data, path, action, value):
    """Return a copy of ``data`` with the node at ``path`` replaced, deleted, or given a new key."""
    data = yaml.safe_load(yaml.safe_dump(data))  # a deep copy
    if not path:
        return value if action == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "insert" and isinstance(parent[last], dict):
        parent[last]["extra_" + str(abs(hash(str(value))) % 97)] = value
    elif action == "insert" and isinstance(parent[last], list):
        parent[last].append(value)
    return data


@st.composite
def mutated_spec_data(draw):
    name = draw(st.sampled_from(sorted(SPEC_TEXTS)))
    data = yaml.safe_load(SPEC_TEXTS[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(paths_in(data))
        path = draw(st.sampled_from(paths))
        data = mutate(data, path, draw(st.sampled_from(["replace", "delete", "insert"])), draw(yaml_data))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))


@st.composite
def mutated_spec_text(draw):
    text = SPEC_TEXTS[draw(st.sampled_from(sorted(SPEC_TEXTS)))]
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        kind = draw(st.sampled_from(["insert", "delete", "replace", "swap-lines", "duplicate-line", "indent"]))
        at = draw(st.integers(0, len(text)))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS) | st.text(max_size=3)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif kind == "replace":
            text = text[:at] + draw(st.characters()) + text[at + 1 :]
        else:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if kind == "swap-lines":
                lines[i], lines[j] = lines[j], lines[i]
            elif kind == "duplicate-line":
                lines.insert(j, lines[i])
            else:
                lines[i] = "  " + lines[i]
            text = "\n".join(lines)
    return text


# --- properties --------------------------------------------------------------------------------------------------


@BOUNDED
@given(yaml_data, st.booleans())
def test_arbitrary_yaml_data(data, flow):
    check_text(yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True))


@BOUNDED
@given(yaml_data.map(lambda d: {"modelspec": 1, "input": {"shape": [4]}, "layers": [d]}))
def test_arbitrary_layers(data):
    check_text(yaml.safe_dump(data, sort_keys=False))


@BOUNDED
@given(soups)
def test_yaml_syntax_soup(text):
    check_text(text)


@BOUNDED
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    check_text(text)


@BOUNDED
@given(mutated_spec_data())
def test_mutated_spec_data(text):
    check_text(text)


@BOUNDED
@given(mutated_spec_text())
def test_mutated_spec_text(text):
    check_text(text)


@BOUNDED
@given(
    st.binary(max_size=300)
    | mutated_spec_text().map(lambda t: t.encode("utf-8", "surrogatepass")[: len(t) // 2] + b"\xff\xfe")
)
def test_arbitrary_bytes_from_a_file(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_bytes(raw)
        try:
            load_spec(path)
        except SpecError as exc:
            text = raw.decode("utf-8", errors="replace")
            check_diagnostics(exc, text, str(path))


def test_every_shipped_spec_is_valid():
    for path in SPECS:  # read from where they are: a spec that `extends:` another names it relative to its folder
        from_document(source.read(path))


# The CLI: any input ends in exit 0, 1 or 2, with no uncaught exception (a traceback).
COMMANDS = [name for name in ("validate", "lint") if name in cli.list_commands(None)]


@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(COMMANDS), mutated_spec_text() | mutated_spec_data() | soups)
def test_cli_exits_only_with_0_1_or_2(command, text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = CliRunner().invoke(cli, [command, str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
