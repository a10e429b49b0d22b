"""`modelspec schema` in the real editor engine: yaml-language-server 1.25 (VS Code's YAML extension), over LSP.

The server is the npm package pinned in tools/lsp/package-lock.json, installed by `make lsp` (which `make test`
runs) into tools/lsp/node_modules. This module talks to it as an editor does, JSON-RPC on its stdin and stdout:
initialize, workspace/didChangeConfiguration with `yaml.schemas` mapping the schema to the specs, didOpen, then
the diagnostics it publishes, completion and hover. It skips only where `node` is absent.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from modelspec.schema.base import type_name
from modelspec.schema.editor_schema import for_blocks
from modelspec.schema.json_schema import json_schema
from modelspec.schema.layers import LAYER_MODELS

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tools" / "lsp" / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
TIMEOUT = 20  # seconds for one answer; the server answers in well under one
LAYER_TYPES = [type_name(m) for m in LAYER_MODELS]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (`make test` needs it)")


class LanguageServer:
    """A yaml-language-server process and the messages it sent: responses by id, diagnostics by document."""

    def __init__(self, schema: Path):
        if not SERVER.is_file():
            pytest.fail(f"{SERVER} is missing: run `make lsp` (npm ci in tools/lsp)")
        self.process = subprocess.Popen(
            ["node", str(SERVER), "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.settings = {
            "yaml": {
                "schemas": {schema.as_uri(): ["*.yaml"]},
                "validate": True,
                "hover": True,
                "completion": True,
                "schemaStore": {"enable": False},
            }
        }
        self.responses: dict[int, dict] = {}
        self.diagnostics: dict[str, list] = {}
        self.changed = threading.Condition()
        self.last_id = 0
        self.version = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": None,
                "capabilities": {
                    "textDocument": {
                        "completion": {"completionItem": {"snippetSupport": True}},
                        "hover": {"contentFormat": ["markdown"]},
                    },
                    "workspace": {"configuration": True},
                },
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})

    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                return
            message = json.loads(stream.read(length))
            if "id" in message and "method" in message:  # the server asks: its settings, or leave to register
                items = message["params"].get("items", []) if message["method"] == "workspace/configuration" else []
                result = [self.settings.get(item.get("section"), self.settings) for item in items] or None
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})
            with self.changed:
                if "id" in message and "method" not in message:
                    self.responses[message["id"]] = message
                elif message.get("method") == "textDocument/publishDiagnostics":
                    self.diagnostics[message["params"]["uri"]] = message["params"]["diagnostics"]
                self.changed.notify_all()

    def request(self, method: str, params):
        self.last_id += 1
        number = self.last_id
        self._send({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
        with self.changed:
            assert self.changed.wait_for(lambda: number in self.responses, TIMEOUT), f"no answer to {method}"
            answer = self.responses.pop(number)
        assert "error" not in answer, answer
        return answer.get("result")

    def notify(self, method: str, params) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def open(self, name: str, text: str, uri: str = "") -> tuple[str, list[dict]]:
        """Open a document (at ``uri``, or a new one named ``name``) and return its URI and the diagnostics the
        server publishes for it."""
        self.version += 1
        uri = uri or f"file:///modelspec-lsp-test/{self.version}/{name}"
        self.notify(
            "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}
        )
        with self.changed:
            assert self.changed.wait_for(lambda: uri in self.diagnostics, TIMEOUT), f"no diagnostics for {name}"
            return uri, self.diagnostics[uri]

    def complete(self, uri: str, line: int, character: int) -> list[dict]:
        result = self.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
        return result["items"] if isinstance(result, dict) else result

    def hover(self, uri: str, line: int, character: int) -> str:
        result = self.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
        )
        return result["contents"]["value"] if result else ""

    def close(self) -> None:
        self.request("shutdown", None)
        self.notify("exit", None)
        self.process.wait(TIMEOUT)


@pytest.fixture(scope="module")
def schema_file() -> Path:
    """The committed schema, which the specs' modelines (`# yaml-language-server: $schema=...`) name too."""
    path = ROOT / "modelspec.schema.json"
    assert json.loads(path.read_text(encoding="utf-8")) == json_schema(), "stale: run `make schema`"
    return path


@pytest.fixture(scope="module")
def server(schema_file):
    language_server = LanguageServer(schema_file)
    yield language_server
    language_server.close()


def cursor(text: str) -> tuple[str, int, int]:
    """Return ``text`` without its ``|`` marker, and the marker's line and column."""
    before, _, after = text.partition("|")
    return before + after, before.count("\n"), len(before.rsplit("\n", 1)[-1])


def messages(diagnostics: list[dict]) -> list[str]:
    return [f"{d['range']['start']['line'] + 1}: {d['message']}" for d in diagnostics]


# --- every spec is clean ------------------------------------------------------------------------------------------

SPECS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "examples").rglob("*.yaml"))

BLOCKS = """\
modelspec: 1
input: {shape: [32, 32, 3]}
blocks:
  conv_bn:
    description: convolution, batch norm, relu
    params: {filters: null, kernel_size: 3, strides: 1}
    layers:
      - {type: conv2d, name: conv, filters: $filters, kernel_size: $kernel_size, strides: $strides,
         padding: same, use_bias: false}
      - {type: batch_norm, name: bn}
      - {type: activation, name: relu, activation: relu}
  identity:
    params: {filters: null, out: null}
    layers:
      - {block: conv_bn, name: "1", filters: $filters, kernel_size: 1}
      - {block: conv_bn, name: "2", filters: $filters}
      - {type: conv2d, name: 3_conv, filters: $out, kernel_size: [1, $k], use_bias: false}
      - {type: batch_norm, name: 3_bn}
      - {type: add, name: add, inputs: [$input, 3_bn]}
      - {type: activation, name: out, activation: relu}
layers:
  - {block: conv_bn, name: stem, filters: 64, kernel_size: 7, strides: 2}
  - {block: identity, name: conv2_block, repeat: 3, start: 1, filters: 64, out: 256}
  - {type: global_average_pool2d}
  - {type: dense, units: 10, activation: softmax}
"""

WIDER = """\
extends: base.yaml
name: wider
layers:
  - {type: dense, units: 256, activation: relu}
  - {type: dense, units: 10, activation: softmax}
"""


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_is_clean(server, path):
    _, diagnostics = server.open(path.name, path.read_text(encoding="utf-8"), uri=path.as_uri())
    assert messages(diagnostics) == []


@pytest.mark.parametrize("text", [BLOCKS, WIDER], ids=["blocks and uses", "extends"])
def test_blocks_uses_and_extends_are_clean(server, text):
    _, diagnostics = server.open("spec.yaml", text)
    assert messages(diagnostics) == []


# --- each mistake is flagged on its line, naming the right choices -----------------------------------------------

BASE = """\
modelspec: 1
input: {shape: [8, 8, 3]}
layers:
  - {type: conv2d, filters: 4, kernel_size: 3, activation: relu}
  - {type: flatten}
  - {type: dense, name: out, units: 4, activation: softmax}
training:
  optimizer: adam
  loss: categorical_crossentropy
"""

# (what, line number in BASE (1-based), the line written there instead, strings the message must hold)
MISTAKES = [
    ("unknown layer type", 5, "  - {type: flaten}", ['"flatten"', '"conv2d"', '"lstm"', '"keras"']),
    ("unknown layer type with a recurrent key", 5, "  - {type: lstmx, units: 4}", ['"flatten"', '"lstm"']),
    ("unknown layer field", 6, "  - {type: dense, unit: 4}", ["unit"]),
    ("missing required field", 6, "  - {type: dense, name: out}", ['"units"']),
    ("units: 0", 6, "  - {type: dense, units: 0}", ["minimum"]),
    ("units: 1.5", 6, "  - {type: dense, units: 1.5}", ["integer"]),
    ("dropout rate 1.5", 5, "  - {type: dropout, rate: 1.5}", ["1"]),
    ("unknown activation", 6, "  - {type: dense, units: 4, activation: relu7}", ['"relu"', '"softmax"']),
    ("unknown initializer", 6, "  - {type: dense, units: 4, kernel_initializer: he_nromal}", ['"he_normal"']),
    ("unknown optimizer", 8, "  optimizer: adamx", ['"adam"', '"sgd"']),
    ("unknown loss", 9, "  loss: categorical_crossentropyy", ['"categorical_crossentropy"']),
    ("unknown top-level field", 2, "epochs: 3\ninput: {shape: [8, 8, 3]}", ["epochs"]),
    ("modelspec: 2", 1, "modelspec: 2", ["1"]),
    ("a $parameter outside a block", 4, "  - {type: conv2d, filters: $filters, kernel_size: 3}", ["integer"]),
    ("repeat without a name", 5, "  - {block: conv_bn, repeat: 2}", ["name", "repeat"]),
]


def with_line(number: int, line: str) -> str:
    lines = BASE.splitlines()
    lines[number - 1] = line
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("number", "line", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_flagged_on_its_line_naming_the_choices(server, number, line, expected):
    _, diagnostics = server.open("spec.yaml", with_line(number, line))
    assert diagnostics, f"not flagged: {line!r}"
    assert {d["range"]["start"]["line"] + 1 for d in diagnostics} == {number}, messages(diagnostics)
    text = " ".join(d["message"] for d in diagnostics)
    assert all(word in text for word in expected), messages(diagnostics)


@pytest.mark.parametrize("line", ["  - {type: flaten}", "  - {type: lstmx, units: 4}"])
def test_an_unknown_layer_type_lists_every_type(server, line):
    """Not the 4 recurrent types a `oneOf` heuristic picks when the layer has `units:`."""
    _, diagnostics = server.open("spec.yaml", with_line(5, line))
    listed = set(re.findall(r'"([a-z0-9_]+)"', " ".join(d["message"] for d in diagnostics)))
    assert listed >= set(LAYER_TYPES), sorted(set(LAYER_TYPES) - listed)


def test_an_unknown_field_names_the_fields_it_could_be(server):
    """The quick fix of VS Code reads the choices from the diagnostic's data."""
    _, diagnostics = server.open("spec.yaml", with_line(6, "  - {type: dense, unit: 4}"))
    (diagnostic,) = [d for d in diagnostics if d["message"].startswith("Property unit ")]
    assert {"units", "activation", "kernel_initializer"} <= set(diagnostic["data"]["properties"])


def test_parameters_inside_a_block_are_not_flagged_but_wrong_values_are(server):
    _, diagnostics = server.open(
        "spec.yaml",
        BLOCKS.replace(
            "use_bias: false}\n      - {type: batch_norm, name: bn",
            "use_bias: maybe}\n      - {type: batch_norm, name: bn",
        ),
    )
    assert [d["range"]["start"]["line"] + 1 for d in diagnostics] == [9], messages(diagnostics)
    assert "parameter" in diagnostics[0]["message"], messages(diagnostics)


# --- completion ----------------------------------------------------------------------------------------------------


def expanded(snippet: str) -> str:
    """Return the text a snippet leaves when each placeholder keeps its default and each tab stop stays empty."""
    return re.sub(r"\$\{\d+:([^}]*)\}|\$\{?\d+\}?", r"\1", snippet)


def inserted(text: str, line: int, column: int, item: dict) -> str:
    lines = text.split("\n")
    insert = item.get("insertText") or item["textEdit"]["newText"]
    if "textEdit" in item:
        edit = item["textEdit"].get("range") or item["textEdit"]["replace"]
        assert edit["start"]["line"] == edit["end"]["line"] == line
        start, end = edit["start"]["character"], edit["end"]["character"]
    else:
        start = end = column
    indent = re.match(r" *", lines[line]).group()  # as an editor does: later lines keep the line's indentation
    lines[line] = lines[line][:start] + expanded(insert).replace("\n", "\n" + indent) + lines[line][end:]
    return "\n".join(lines)


@functools.cache
def validator(schema_file: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))


def schema_errors(schema_file: Path, data) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:120]}" for e in validator(schema_file).iter_errors(data)]


BARE_ITEM = BASE.replace("  - {type: flatten}\n", "  - |\n")


def test_a_bare_item_offers_the_layer_types_not_every_field(server):
    text, line, column = cursor(BARE_ITEM)
    uri, _ = server.open("spec.yaml", text)
    labels = {item["label"] for item in server.complete(uri, line, column)}
    assert set(LAYER_TYPES) | {"block use", "type"} <= labels
    assert not labels & {"units", "filters", "kernel_initializer", "rate", "activation_1"}, sorted(labels)
    assert len(labels) <= len(LAYER_TYPES) + 5, sorted(labels)


def test_every_layer_snippet_inserts_a_valid_layer(server, schema_file):
    text, line, column = cursor(BARE_ITEM)
    uri, _ = server.open("spec.yaml", text)
    snippets = [item for item in server.complete(uri, line, column) if item["label"] in LAYER_TYPES]
    assert {item["label"] for item in snippets} == set(LAYER_TYPES)
    for item in snippets:
        data = yaml.safe_load(inserted(text, line, column, item))
        layer = data["layers"][1]
        assert layer["type"] == item["label"]
        errors = [e for e in schema_errors(schema_file, data) if e.startswith("['layers', 1")]
        assert errors == [], (item["label"], errors)


def test_completing_a_field_inserts_valid_yaml_without_placeholder_values(server, schema_file):
    text, line, column = cursor(BASE.replace("  - {type: flatten}\n", "  - type: dense\n    |\n"))
    uri, _ = server.open("spec.yaml", text)
    everything = server.complete(uri, line, column)
    snippets = {item["label"] for item in everything if item.get("kind") != 10} & set(LAYER_TYPES)
    assert not snippets, f"layer snippets inside a layer: {sorted(snippets)}"
    items = [item for item in everything if item.get("kind") == 10]  # properties
    assert {"units", "name", "activation", "kernel_initializer", "bias_initializer"} <= {i["label"] for i in items}
    for item in items:
        insert = item.get("insertText") or item["textEdit"]["newText"]
        after = expanded(insert)
        assert not re.search(r":\s*(0|null)\s*$", after), (item["label"], insert)
        data = yaml.safe_load(inserted(text, line, column, item))
        layer = data["layers"][1]
        value = layer.get(item["label"])
        if value is None or re.search(r"\$\d+|\$\{\d+\}", insert):  # left empty, a tab stop: the person types it
            continue
        errors = [e for e in schema_errors(schema_file, data) if e.startswith("['layers', 1")]
        assert [e for e in errors if "units" not in e or item["label"] == "units"] == [], (item["label"], errors)
    by_label = {i["label"]: expanded(i.get("insertText") or i["textEdit"]["newText"]) for i in items}
    assert by_label["kernel_initializer"].strip() == "kernel_initializer: auto"


def test_the_top_level_offers_blocks_and_extends_not_the_misplaced_distribute(server):
    text, line, column = cursor(BASE + "|\n")
    uri, _ = server.open("spec.yaml", text)
    labels = {item["label"] for item in server.complete(uri, line, column)}
    assert {"blocks", "extends", "outputs", "pretrained"} <= labels
    assert "distribute" not in labels


def test_a_block_use_offers_its_reserved_keys_and_a_parameter(server):
    text, line, column = cursor(BASE.replace("  - {type: flatten}\n", "  - block: conv_bn\n    |\n"))
    uri, _ = server.open("spec.yaml", text)
    labels = {item["label"] for item in server.complete(uri, line, column)}
    assert {"name", "repeat", "start", "inputs", "parameter"} <= labels
    assert not labels & {*LAYER_TYPES, "type", "units"}, sorted(labels)


# --- hover -----------------------------------------------------------------------------------------------------------


def test_hover_names_the_field_and_renders_markdown(server):
    text = BASE.replace("  - {type: flatten}\n", "  - type: dense\n    units: 3\n    kernel_initializer: he_normal\n")
    uri, _ = server.open("spec.yaml", text)
    initializer = server.hover(uri, 6, 8)
    assert initializer.startswith("#### kernel\\_initializer"), initializer
    assert "`he_normal`: He" in initializer
    layers = server.hover(uri, 2, 2)
    assert layers.startswith("#### layers") and "names `inputs`" in layers, layers
    value = server.hover(uri, 4, 12)
    assert value.startswith("#### type") and "`dense`: Fully connected" in value, value


# --- narrowed to one spec's blocks: parameter names ----------------------------------------------------------------


@pytest.fixture(scope="module")
def narrowed(tmp_path_factory) -> str:
    """A modeline naming the schema narrowed to BLOCKS's blocks (`modelspec schema --blocks-of SPEC`)."""
    path = tmp_path_factory.mktemp("narrowed") / "spec.schema.json"
    path.write_text(json.dumps(for_blocks(json_schema(), yaml.safe_load(BLOCKS)["blocks"])), encoding="utf-8")
    return f"# yaml-language-server: $schema={path.as_uri()}\n"


def test_a_use_completes_its_block_s_parameter_names(server, narrowed):
    text, line, column = cursor(narrowed + BLOCKS + "  - block: conv_bn\n    |\n")
    uri, diagnostics = server.open("spec.yaml", text)
    items = {item["label"]: item.get("insertText") for item in server.complete(uri, line, column)}
    assert {"filters", "kernel_size", "strides", "name", "repeat"} <= set(items), sorted(items)
    assert expanded(items["kernel_size"]) == "kernel_size: 3"  # the default, to edit
    assert expanded(items["filters"]).strip() == "filters:"
    # the use being written lacks `filters`, which has no default: flagged on its line (the last)
    assert [(d["range"]["start"]["line"], d["message"]) for d in diagnostics] == [
        (line - 1, 'Missing property "filters".')
    ]


def test_an_unknown_parameter_is_flagged_naming_the_parameters(server, narrowed):
    text = narrowed + BLOCKS.replace("out: 256}", "outs: 256}")
    _, diagnostics = server.open("spec.yaml", text)
    line = text.splitlines().index(
        "  - {block: identity, name: conv2_block, repeat: 3, start: 1, filters: 64, outs: 256}"
    )
    assert {d["range"]["start"]["line"] for d in diagnostics} == {line}, messages(diagnostics)
    (unknown,) = [d for d in diagnostics if d["message"] == "Property outs is not allowed."]
    assert "out" in unknown["data"]["properties"]
