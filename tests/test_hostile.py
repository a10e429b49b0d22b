"""Hostile and faulty specs, through the CLI: exit 2, a file:line:col diagnostic, no traceback, nothing created
and nothing executed. Each case names the guard it proves; removing that guard makes its case fail.

See docs/security.md for what modelspec refuses and why.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import python

from modelspec import load_spec
from modelspec.cli import cli
from modelspec.source import Limits

HEAD = "modelspec: 1\nname: hostile\ninput: {shape: [4]}\nlayers:\n"
CANARY = "CANARY-created"
# What a diagnostic line looks like: path:line:col: error[MS001] ...
LOCATED = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+):(?P<column>\d+): error\[MS00\d\] ", re.MULTILINE)


def layer(text: str) -> str:
    """A spec whose only layer is ``text`` (YAML block-mapping lines, indented under `- `)."""
    lines = textwrap.dedent(text).strip("\n").splitlines()
    return HEAD + "  - " + "\n    ".join(lines) + "\n"


def bomb(levels: int = 9, width: int = 9) -> str:
    """Billion laughs: each anchor is a list of ``width`` aliases of the previous one."""
    lines = ["modelspec: 1", "a0: &a0 [lol]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


# (id, file content, expected message fragment, expected line). The content is str (UTF-8) or bytes.
CASES = [
    # YAML tags that construct Python objects (CVE-2021-37678 used !!python/object/apply through yaml.load).
    ("tag-object-apply", f"!!python/object/apply:os.system ['touch {CANARY}']\n", "tag '!!python/object/apply", 1),
    (
        "tag-object-apply-in-field",
        layer(f"type: dense\nunits: !!python/object/apply:os.system ['touch {CANARY}']"),
        "is not allowed",
        6,
    ),
    ("tag-object-new", layer("type: dense\nunits: !!python/object/new:builtins.int [3]"), "is not allowed", 6),
    ("tag-name", HEAD + "  - !!python/name:os.system {}\n", "tag '!!python/name:os.system'", 5),
    ("tag-module", "modelspec: !!python/module:os\n", "tag '!!python/module:os'", 1),
    (
        "tag-handle",
        f"%TAG !p! tag:yaml.org,2002:python/\n---\nmodelspec: !p!object/apply:os.system [touch {CANARY}]\n",
        "tag '!!python/object/apply",
        3,
    ),
    ("tag-local", layer("type: !Dense\nunits: 3"), "tag '!Dense'", 5),
    ("tag-binary", "modelspec: 1\nname: !!binary aGVsbG8=\n", "tag '!!binary'", 2),
    ("tag-set", "modelspec: 1\nlayers: !!set {a, b}\n", "tag '!!set'", 2),
    ("tag-timestamp", "modelspec: 1\nname: !!timestamp 2001-12-14\n", "tag '!!timestamp'", 2),
    # Alias bombs and recursive aliases: nodes are counted after expansion.
    ("alias-bomb", bomb(), "expands to more than", 8),
    (
        "alias-bomb-mappings",
        "modelspec: 1\n"
        + "".join(
            f"m{n}: &m{n} {{" + ", ".join(f"k{i}: *m{n - 1}" for i in range(10)) + "}\n" if n else "m0: &m0 {k: v}\n"
            for n in range(8)
        ),
        "expands to more than",
        7,
    ),
    ("alias-recursive-list", "modelspec: 1\nlayers: &a [*a]\n", "refers to no finished anchor", 2),
    ("alias-recursive-map", "modelspec: 1\ninput: &a {shape: *a}\n", "refers to no finished anchor", 2),
    ("alias-undefined", "modelspec: 1\nlayers: *nowhere\n", "refers to no finished anchor", 2),
    # Nesting thousands deep (flow style costs two bytes a level, block style would hit the size cap first).
    ("nesting-lists", "modelspec: 1\nlayers: " + "[" * 5000 + "]" * 5000 + "\n", "nesting is deeper than 64", 2),
    ("nesting-maps", "modelspec: 1\ninput: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "nesting is deeper", 2),
    ("nesting-block", "modelspec: 1\n" + "".join(" " * i + "a:\n" for i in range(100)), "nesting is deeper", 66),
    # Numbers with thousands of digits: refused before int() or float() sees them.
    ("number-digits", layer("type: dense\nunits: " + "9" * 5000), "number has 5000 characters", 6),
    ("number-float-digits", layer("type: dropout\nrate: 0." + "1" * 5000), "number has 5002 characters", 6),
    ("number-hex-digits", layer("type: dense\nunits: 0x" + "f" * 3000), "number has 3002 characters", 6),
    ("number-octal-digits", layer("type: dense\nunits: 0o" + "7" * 3000), "number has 3002 characters", 6),
    ("number-overflow-to-inf", layer("type: gaussian_noise\nstddev: 1e999999"), "must be a finite number", 6),
    # Several documents in one file: which one would be the spec?
    ("two-documents", HEAD + "  - {type: dense, units: 3}\n---\nmodelspec: 1\n", "one YAML document", 6),
    ("empty-then-document", "---\n...\n---\n" + HEAD + "  - {type: dense, units: 3}\n", "one YAML document", 3),
    # Not UTF-8 text.
    ("latin-1", "modelspec: 1\nname: caf\xe9\n".encode("latin-1"), "not valid UTF-8 (byte 0xe9)", 2),
    ("utf-16", "modelspec: 1\n".encode("utf-16"), "NUL bytes", 1),
    ("binary", bytes(range(256)) * 4, "NUL bytes", 1),
    ("binary-no-nul", b"modelspec: 1\n\x8b\x08\xff\xfe", "not valid UTF-8", 2),
    ("control-byte", b"modelspec: 1\nname: a\x07b\n", "is not allowed", 2),
    ("line-separator", "modelspec: 1\nname: a\u2028b\nlayers: []\n", "U+2028, which YAML reads as a line break", 2),
    ("next-line", "modelspec: 1\n# hidden\x85layers: []\n", "U+0085", 2),
    ("empty-file", b"", "the file is empty", 1),
    ("not-a-mapping", "- type: dense\n", "must be a mapping", 1),
    # Duplicate keys: PyYAML would silently keep the last.
    (
        "duplicate-top",
        HEAD + "  - {type: dense, units: 3}\nlayers: []\n",
        "duplicate key 'layers' (first defined on line 4)",
        6,
    ),
    ("duplicate-in-layer", layer("type: dense\nunits: 3\nunits: 3000000"), "duplicate key 'units'", 7),
    ("duplicate-flow", HEAD + "  - {type: dense, units: 3, units: 4}\n", "duplicate key 'units'", 5),
    # Booleans, floats and strings where integers belong: no coercion.
    ("bool-for-int", layer("type: dense\nunits: true"), "must be an integer (received: true)", 6),
    ("float-for-int", layer("type: dense\nunits: 3.0"), "must be an integer (received: 3.0)", 6),
    ("string-for-int", layer("type: dense\nunits: '3'"), "must be an integer (received: '3')", 6),
    (
        "float-seed",
        "modelspec: 1\nseed: 4.2\ninput: {shape: [4]}\nlayers: [{type: dense, units: 1}]\n",
        "seed: must be an integer",
        2,
    ),
    ("int-for-bool", layer("type: dense\nunits: 3\nuse_bias: 1"), "must be true or false (received: 1)", 7),
    # NaN and infinity, in typed fields and in a `type: keras` config.
    ("nan", layer("type: dropout\nrate: .nan"), "must be a finite number (received: .nan)", 6),
    ("inf", layer("type: gaussian_noise\nstddev: .inf"), "must be a finite number (received: .inf)", 6),
    ("negative-inf", layer("type: rescaling\nscale: -.Inf"), "must be a finite number", 6),
    ("nan-in-keras-config", layer("type: keras\nclass_name: LeakyReLU\nconfig: {negative_slope: .nan}"), "finite", 7),
    (
        "nan-in-initializer",
        layer("type: dense\nunits: 3\nkernel_initializer: {type: random_normal, stddev: .nan}"),
        "finite",
        7,
    ),
    # YAML 1.1 surprises, decided: YAML 1.2 core schema; ambiguous octal refused; 1.1 directive refused.
    ("yaml11-octal", layer("type: dense\nunits: 010"), "ambiguous number '010'", 6),
    ("yaml11-sexagesimal", layer("type: dense\nunits: 1:30"), "must be an integer (received: '1:30')", 6),
    ("yaml11-yes", layer("type: dense\nunits: 3\nuse_bias: yes"), "YAML 1.2 booleans are true and false only", 7),
    ("yaml11-off", layer("type: dense\nunits: 3\ntrainable: off"), "must be true or false (received: 'off')", 7),
    ("yaml11-directive", "%YAML 1.1\n---\n" + HEAD + "  - {type: dense, units: 3}\n", "%YAML 1.1 directive", 1),
    ("yaml11-merge-key", "base: &b {type: dense, units: 3}\n" + HEAD + "  - {<<: *b}\n", "merge keys", 6),
    # Layer names that are paths or hold control characters (they become Keras names and file members).
    ("name-path", layer("type: dense\nname: ../../etc/passwd\nunits: 3"), "must be a name", 6),
    ("name-absolute", layer("type: dense\nname: /tmp/evil\nunits: 3"), "must be a name", 6),
    ("name-windows", layer("type: dense\nname: 'C:\\evil'\nunits: 3"), "must be a name", 6),
    ("name-escape", layer('type: dense\nname: "a\\e[31mred"\nunits: 3'), "control character U+001B", 6),
    ("name-newline", layer('type: dense\nname: "a\\n::error::forged"\nunits: 3'), "control character U+000A", 6),
    ("name-bidi", layer('type: dense\nname: "ab\\u202Ecd"\nunits: 3'), "control character U+202E", 6),
    ("key-newline", layer('type: dense\nunits: 3\n"x\\n::error file=a.py::forged": 1'), "U+000A", 7),
    ("name-too-long", layer("type: dense\nname: a" + "b" * 64 + "\nunits: 3"), "must be a name", 6),
    ("string-too-long", layer("type: dense\nunits: 3\nactivation: " + "x" * 5000), "string has 5,000 characters", 7),
    # `type: keras` passthrough outside the allow-list, or with arguments that are paths, URLs or objects.
    (
        "keras-lambda",
        layer("type: keras\nclass_name: Lambda\nconfig: {function: lambda_x}"),
        "'Lambda' is not an allowed Keras layer",
        6,
    ),
    ("keras-tfsm", layer("type: keras\nclass_name: TFSMLayer"), "'TFSMLayer' is not an allowed Keras layer", 6),
    ("keras-custom", layer("type: keras\nclass_name: my_package>Evil"), "is not an allowed Keras layer", 6),
    ("keras-dotted", layer("type: keras\nclass_name: keras.layers.Lambda"), "is not an allowed Keras layer", 6),
    ("keras-wrapper", layer("type: keras\nclass_name: TimeDistributed"), "is not an allowed Keras layer", 6),
    ("keras-input-layer", layer("type: keras\nclass_name: InputLayer"), "is not an allowed Keras layer", 6),
    ("keras-path-arg", layer("type: keras\nclass_name: ReLU\nconfig: {filepath: /etc/passwd}"), "no paths or URLs", 7),
    ("keras-relative-path-arg", layer("type: keras\nclass_name: ReLU\nconfig: {x: ../secret}"), "no paths or URLs", 7),
    (
        "keras-url-arg",
        layer("type: keras\nclass_name: ReLU\nconfig: {x: 'https://evil.example/m'}"),
        "no paths or URLs",
        7,
    ),
    (
        "keras-nested-object",
        layer("type: keras\nclass_name: Dot\nconfig: {axes: {class_name: Lambda}}"),
        "config.axes",
        7,
    ),
    ("keras-reserved-arg", layer("type: keras\nclass_name: ReLU\nconfig: {dtype: mixed_float16}"), "may not set", 7),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(*args: str):
    # catch_exceptions=False: an uncaught exception (a traceback) fails the test instead of becoming exit 1.
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(folder: Path, content, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def assert_refused(result, path: Path, fragment: str, line: int) -> None:
    """Exit 2, every error line located in ``path``, the expected message at the expected line, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    located = list(LOCATED.finditer(result.output))
    assert located, f"no located diagnostic in:\n{result.output}"
    assert all(m["path"] == str(path) for m in located), result.output
    assert any(int(m["line"]) == line for m in located), f"expected line {line}:\n{result.output}"
    assert fragment in result.output, result.output
    # Diagnostics are printed one per line: no raw control character reaches the terminal or the CI log.
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e]", result.output)


@pytest.mark.parametrize("content, fragment, line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validate_refuses(workdir, content, fragment, line):
    path = write(workdir, content)
    assert_refused(run_cli("validate", str(path)), path, fragment, line)


@pytest.mark.parametrize("content, fragment, line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_build_refuses_and_creates_nothing(workdir, content, fragment, line):
    path = write(workdir, content)
    start = time.perf_counter()
    result = run_cli("build", str(path), "-o", str(workdir / "out.keras"))
    assert_refused(result, path, fragment, line)
    assert time.perf_counter() - start < 5
    assert sorted(p.name for p in workdir.iterdir()) == ["spec.yaml"]  # no output, no temporary, no canary


def test_all_errors_in_a_file_are_reported_at_once(workdir):
    path = write(
        workdir, HEAD + "  - {type: dense, units: 0}\n  - {type: dropout, rate: .nan}\n  - {type: dense, units: true}\n"
    )
    result = run_cli("validate", str(path))
    assert result.exit_code == 2
    assert [int(m["line"]) for m in LOCATED.finditer(result.output)] == [5, 6, 7]


def test_a_duplicate_key_is_reported_with_the_other_errors(workdir):
    # The README's Errors example: four mistakes, one of them a duplicate key, all reported in one run.
    path = write(
        workdir,
        HEAD + "  - {type: dense, unitz: 4}\n  - {type: dnse}\n  - {type: dense, units: 0}\n"
        "  - type: dropout\n    rate: 0.1\n    rate: 0.2\n",
    )
    result = run_cli("validate", str(path))
    assert result.exit_code == 2, result.output
    assert [int(m["line"]) for m in LOCATED.finditer(result.output)] == [5, 6, 7, 10]
    assert "duplicate key 'rate' (first defined on line 9)" in result.output
    assert "unknown field 'unitz'" in result.output


def test_a_duplicate_key_in_a_spec_that_is_otherwise_valid_is_still_refused(workdir):
    path = write(workdir, HEAD + "  - type: dense\n    units: 2\n    units: 3\n")
    result = run_cli("validate", str(path))
    assert_refused(result, path, "duplicate key 'units' (first defined on line 6)", 7)
    assert len(LOCATED.findall(result.output)) == 1


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(
    "nesting, column",
    [
        ("[" * 5000 + "]" * 5000, 72),  # past any parser's own cap (libyaml's is 1,000 since PyYAML 6.0.4)
        ("[" * 1100 + "]" * 1100, 72),
        ("[{a: '[[[[', b: [" + "[" * 2000 + "]" * 2000 + "]}]", 86),  # brackets inside a string do not count
    ],
    ids=["5000", "1100", "after-a-string"],
)
def test_our_nesting_cap_answers_whichever_parser_reads_the_file(workdir, monkeypatch, libyaml, nesting, column):
    if not libyaml:
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)  # PyYAML built without libyaml
    elif not getattr(yaml, "CSafeLoader", None):
        pytest.skip("this PyYAML has no libyaml")
    path = write(workdir, f"modelspec: 1\nlayers: {nesting}\n")
    result = run_cli("validate", str(path))
    assert_refused(result, path, "nesting is deeper than 64 levels", 2)
    assert f"spec.yaml:2:{column}:" in result.output


def test_a_syntax_error_in_nesting_under_the_cap_stays_a_syntax_error(workdir):
    path = write(workdir, "modelspec: 1\nlayers: " + "[" * 60 + "1,," + "]" * 60 + "\n")
    result = run_cli("validate", str(path))
    assert_refused(result, path, "invalid YAML", 2)
    assert "nesting is deeper" not in result.output


# --- decisions that accept input: tested so that a change is deliberate --------------------------------------


def test_yaml12_core_scalars_that_are_accepted():
    spec = load_spec(layer("type: dense\nunits: 0o10\nname: yes\n")).spec  # 0o10 is octal in YAML 1.2
    assert spec.layers[0].units == 8
    assert spec.layers[0].name == "yes"  # a string, not True
    assert load_spec(layer("type: dense\nunits: 0x10")).spec.layers[0].units == 16
    assert load_spec("%YAML 1.2\n---\n" + layer("type: dense\nunits: !!int '12'")).spec.layers[0].units == 12
    assert load_spec(layer("type: dense\nunits: 4\nname: &n first")).spec.layers[0].name == "first"
    assert load_spec("\ufeff" + layer("type: dense\nunits: 3")).spec.layers[0].units == 3  # a UTF-8 BOM is fine


def test_a_plain_anchor_and_alias_within_the_limits_is_fine():
    text = HEAD + "  - &block {type: dense, units: 8, activation: relu}\n  - *block\n  - *block\n"
    assert [info.name for info in load_spec(text).analysis.layers.values()] == ["dense", "dense_1", "dense_2"]


# --- limits -----------------------------------------------------------------------------------------------------


def many_layers(count: int) -> str:
    return HEAD + "  - {type: dense, units: 4}\n" * count


def test_layer_count_limit(workdir):
    limit = Limits().max_layers
    path = write(workdir, many_layers(limit + 1))
    result = run_cli("validate", str(path))
    assert_refused(result, path, f"the spec has {limit + 1:,} layers; at most {limit:,} are allowed", 4)
    assert "MODELSPEC_MAX_LAYERS" in result.output


def test_layer_count_limit_is_configurable(workdir, monkeypatch):
    path = write(workdir, many_layers(5))
    monkeypatch.setenv("MODELSPEC_MAX_LAYERS", "4")
    assert_refused(run_cli("validate", str(path)), path, "at most 4 are allowed", 4)
    monkeypatch.setenv("MODELSPEC_MAX_LAYERS", "5")
    assert run_cli("validate", str(path)).exit_code == 0


def test_file_size_limit_is_configurable(workdir, monkeypatch):
    big = HEAD + "  - {type: dense, units: 4}\n" + "# padding\n" * (Limits().max_bytes // 10)
    path = write(workdir, big)
    result = run_cli("validate", str(path))
    assert_refused(result, path, f"file is larger than {Limits().max_bytes:,} bytes", 1)
    assert "MODELSPEC_MAX_FILE_BYTES" in result.output
    monkeypatch.setenv("MODELSPEC_MAX_FILE_BYTES", str(2 * len(big)))
    assert run_cli("validate", str(path)).exit_code == 0


@pytest.mark.parametrize("value", ["0", "-5", "lots", "1e6"])
def test_a_bad_limit_variable_is_a_clear_error(workdir, monkeypatch, value):
    path = write(workdir, many_layers(1))
    monkeypatch.setenv("MODELSPEC_MAX_LAYERS", value)
    result = run_cli("validate", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "MODELSPEC_MAX_LAYERS must be a positive integer" in result.output


def test_max_params_is_refused_before_tensorflow(workdir, monkeypatch):
    path = write(workdir, layer("type: dense\nunits: 1000"))
    result = run_cli("build", str(path), "--max-params", "4999", "-o", str(workdir / "out.keras"))
    assert result.exit_code == 2
    assert "5,000 parameters, more than --max-params 4,999" in result.output
    assert sorted(p.name for p in workdir.iterdir()) == ["spec.yaml"]


def test_a_trillion_units_is_refused_fast_with_little_memory_and_no_tensorflow(tmp_path):
    """Keras would allocate Dense(10**12) without question; modelspec refuses it with Python integers."""
    write(tmp_path, HEAD + "  - {type: dense, units: 1000000000000}\n")
    done = python(
        """
        import resource, sys, time
        from click.testing import CliRunner
        from modelspec.cli import cli
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # 2 GiB: a 4 TB kernel cannot even be tried
        start = time.perf_counter()
        result = CliRunner().invoke(cli, ["build", "spec.yaml", "-o", "out.keras"])
        elapsed = time.perf_counter() - start
        print(result.exit_code, f"{elapsed:.3f}", "tensorflow" in sys.modules, "keras" in sys.modules)
        print(result.output)
        """,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    code, elapsed, tensorflow, keras = done.stdout.split("\n", 1)[0].split()
    assert (code, tensorflow, keras) == ("2", "False", "False"), done.stdout
    assert float(elapsed) < 0.5, done.stdout
    assert "spec.yaml:1:1: error[MS001] the model has 5,000,000,000,000 parameters" in done.stdout
    assert not (tmp_path / "out.keras").exists()


# Specs right at each limit: still read and validated quickly.
def _at_limit_specs():
    limits = Limits()
    named = "".join(f"  - {{type: dense, name: l{i}, units: 4, activation: relu}}\n" for i in range(limits.max_layers))
    dropouts = "  - {type: dropout, rate: 0.1}\n" * (limits.max_layers - 1)
    wide = (
        "  - {type: dense, units: 4, name: w0}\n"
        + "".join(
            f"  - {{type: dense, units: 1, name: b{i}, inputs: [w0]}}\n" for i in range(limits.max_layers // 2 - 2)
        )
        + "  - {type: concatenate, inputs: ["
        + ", ".join(f"b{i}" for i in range(limits.max_layers // 2 - 2))
        + "]}\n"
    )
    deep = "  - {type: dense, units: 1, name: d, kernel_initializer: {type: variance_scaling, scale: 1.0}}\n"
    nesting = "deep: " + "[" * (limits.max_depth - 2) + "1" + "]" * (limits.max_depth - 2) + "\n"
    numbers = "  - {type: dense, units: 1" + "0" * (limits.max_number_chars - 1) + "}\n"
    return {
        "max-layers-named": (HEAD + named, True),
        "max-layers-dropout-chain": (HEAD + "  - {type: dense, units: 4, activation: relu}\n" + dropouts, True),
        "wide-merge": (HEAD + wide, True),
        "max-depth": (HEAD + deep + nesting, False),  # `deep:` is an unknown field, but it is read
        "max-number-chars": (HEAD + numbers, True),
    }


@pytest.mark.parametrize("name", list(_at_limit_specs()))
def test_largest_legal_spec_at_each_limit_validates_quickly(name):
    text, valid = _at_limit_specs()[name]
    assert len(text.encode()) <= Limits().max_bytes
    start = time.perf_counter()
    if valid:
        load_spec(text)
    else:
        with pytest.raises(Exception) as info:
            load_spec(text)
        assert "unknown field 'deep'" in str(info.value)
    assert time.perf_counter() - start < 5


def test_alias_expansion_right_under_the_node_limit_is_read_quickly():
    limits = Limits()
    count = limits.max_nodes - 40
    text = HEAD + "  - {type: dense, units: 1, name: &n out}\noutputs: [" + ", ".join(["*n"] * count) + "]\n"
    start = time.perf_counter()
    assert load_spec(text).analysis.outputs[:2] == ["out", "out"]
    assert time.perf_counter() - start < 5


# --- docs/security.md and --help match the code --------------------------------------------------------------


def test_security_doc_states_the_limits_the_code_applies():
    from modelspec.cli import DEFAULT_MAX_PARAMS
    from modelspec.source import ENV_VARIABLES

    doc = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text(encoding="utf-8")
    limits = Limits()
    rows = {
        "File size": f"{limits.max_bytes:,} bytes",
        "Nodes after alias expansion": f"{limits.max_nodes:,}",
        "Nesting depth": f"{limits.max_depth}",
        "Digits in a number": f"{limits.max_number_chars} characters",
        "Characters in a string": f"{limits.max_string_chars:,}",
        "Layers": f"{limits.max_layers:,}",
        "Blocks used inside blocks": f"{limits.max_block_nesting} levels",
        "`repeat` of one use": f"{limits.max_repeat:,} copies",
        "`extends:` chain": f"{limits.max_extends} files",
        "Parameters (`build`)": f"{DEFAULT_MAX_PARAMS:,}",
    }
    for row, value in rows.items():
        line = next(line for line in doc.splitlines() if line.startswith(f"| {row} |"))
        assert value in line, (row, line)
    assert len(rows) - 1 == len(vars(limits))  # a new limit needs a row here and in the doc
    for variable in ENV_VARIABLES:
        assert variable in doc


@pytest.mark.parametrize("command", ["validate", "build"])
def test_help_lists_the_configurable_limits(command):
    from modelspec.source import ENV_VARIABLES

    output = " ".join(run_cli(command, "--help").output.split())
    for variable in ENV_VARIABLES:
        assert variable in output
    assert f"{Limits().max_layers:,} layers" in output


def test_a_lone_surrogate_in_a_python_string_is_a_located_error():
    """Files are decoded strictly, but load_spec also takes a str, which may hold what UTF-8 cannot."""
    from modelspec import SpecError

    with pytest.raises(SpecError) as info:
        load_spec("modelspec: 1\nname: a\ud800b\nlayers: []\n")
    assert info.value.diagnostics[0].line == 2
    assert "lone surrogate U+D800" in str(info.value)
