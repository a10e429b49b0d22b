"""Export-readiness rules (MS5xx): what a format of `modelspec export` cannot take, found before anything runs.

Each rule names the formats it is about (``Rule.formats``) and runs only when a spec's `lint.export` or the
configuration (`modelspec lint --export FORMAT`, and `modelspec export` itself) asks for one of them. What they
flag is what the converters really refuse with the versions of the `export` extra (tf2onnx 1.17, onnxruntime 1.32,
TensorFlow 2.21's LiteRT converter, ai-edge-litert 2.3): tests/test_export_rules.py exports each rule's example and
sees the converter or the runtime fail, and its fixed spec succeed (docs/export.md, "Known converter traps").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules.doc_parts import spec

EXPORT_DOC = "modelspec's export formats and their limits: docs/export.md"
ONNX_OPS = "ONNX operators (Erf exists, Erfc does not): https://onnx.ai/onnx/operators/"
TF2ONNX_OPS = "tf2onnx, supported TensorFlow ops: https://github.com/onnx/tensorflow-onnx/blob/main/support_status.md"
LITERT_OPS = "LiteRT, TensorFlow op compatibility: https://ai.google.dev/edge/litert/models/ops_compatibility"
LITERT_RNN = "LiteRT, fused RNN and LSTM conversion: https://ai.google.dev/edge/litert/models/rnn"
RECURRENT = ("lstm", "gru", "simple_rnn", "bidirectional")


def _layers_with_gelu(subject: Subject) -> Iterator[tuple]:
    """(layer, path to its `activation`) for every layer whose activation is the exact GELU."""
    for info in subject.analysis.layers.values():
        inner = getattr(info.spec, "layer", None)  # bidirectional: the wrapped recurrent layer
        for owner, path in ((info.spec, ()), (inner, ("layer",))):
            if owner is not None and getattr(owner, "activation", None) == "gelu":
                yield info, subject.field_path(info, "activation") if not path else info.path + path


def _gelu_for_onnx(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info, path in _layers_with_gelu(subject):
        yield Finding(
            path,
            "`activation: gelu`: Keras computes the exact GELU with erfc, which tf2onnx writes as "
            "an `Erfc` node, an operator ONNX does not have: onnxruntime refuses the file at any opset",
            hint="use `activation: swish` (or `silu`), which ONNX takes, or export this model to saved_model or litert",
            layer=info.name,
        )


def _recurrent_for_litert(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        if info.type in RECURRENT:
            yield Finding(
                info.path,
                f"a `{info.type}` layer: Keras runs it as a TensorFlow while loop over TensorList "
                f"ops, which the LiteRT builtin op set lacks (the converter stops: 'Lowering tensor list ops is "
                f"failed'), and the select-TF-ops fallback needs the Flex delegate, which the ai-edge-litert "
                f"interpreter does not have",
                hint="export this model to onnx or saved_model, or replace the recurrence by convolutions "
                "(conv1d) or attention for a phone",
                layer=info.name,
            )


def _normalization_for_onnx(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    for info in subject.analysis.layers.values():
        if info.type == "normalization":
            yield Finding(
                info.path,
                "a `normalization` layer: Keras holds its mean and variance as tensors (fixed, or computed from "
                "its state) that the traced model captures, and tf2onnx 1.17 lists captured tensors as inputs of "
                "the ONNX graph, so onnxruntime asks for them on every call ('Required inputs ... are missing')",
                hint="standardise with a `rescaling` layer (`scale: 1/std, offset: -mean/std`, one value for all "
                "channels), or standardise the data before the model",
                layer=info.name,
            )


_DENSE_OUT = "  - {type: dense, units: 10, activation: softmax}\n"
_ONNX = "lint: {export: [onnx]}\n"
_LITERT = "lint: {export: [litert]}\n"

MS501 = Rule(
    code="MS501",
    name="gelu-for-onnx",
    level=Level.ERROR,
    summary="ONNX: the exact `gelu` activation converts to an Erfc node, which ONNX lacks",
    check=_gelu_for_onnx,
    formats=frozenset({"onnx"}),
    docs=Docs(
        what="With `onnx` among the spec's export formats (`lint: {export: [onnx]}`, `modelspec lint --export "
        "onnx`, or `modelspec export --format onnx`), flags every layer whose activation is `gelu`.",
        why="Keras's `gelu` is the exact GELU, 0.5·x·erfc(-x/√2). tf2onnx 1.17 converts TensorFlow's `Erfc` op "
        "one to one into an `Erfc` node, but ONNX defines `Erf` only: the converter writes the file with a "
        "warning ('Unsupported ops: Erfc'), and onnxruntime refuses to load it ('No Op registered for Erfc'), at "
        "the default opset 15 as at 18, the highest tf2onnx 1.17 writes. The model cannot be served from ONNX.",
        example=spec("  - {type: dense, units: 64, activation: gelu}\n" + _DENSE_OUT, extra=_ONNX),
        use_instead=spec("  - {type: dense, units: 64, activation: swish}\n" + _DENSE_OUT, extra=_ONNX),
        known_problems="Calibration: docs/calibration.md, MS501's row: the converter fails where the rule says "
        "(tests/test_export_rules.py::test_the_converter_fails_where_the_rule_says).",
        references=f"{ONNX_OPS}\n{TF2ONNX_OPS}\n{EXPORT_DOC}",
    ),
)

MS502 = Rule(
    code="MS502",
    name="recurrent-for-litert",
    level=Level.ERROR,
    summary="LiteRT: recurrent layers need TensorList ops, which the builtin op set lacks",
    check=_recurrent_for_litert,
    formats=frozenset({"litert"}),
    docs=Docs(
        what="With `litert` among the spec's export formats, flags every `lstm`, `gru`, `simple_rnn` and "
        "`bidirectional` layer.",
        why="Keras 3 runs a recurrent layer as a `tf.while_loop` that collects its steps in TensorList ops. The "
        "LiteRT converter cannot lower them to builtin ops ('failed to legalize operation tf.TensorListReserve'), "
        "whether the time dimension is static or not; with the select-TF-ops fallback the conversion succeeds, "
        "but the file then needs the Flex delegate, which the `ai-edge-litert` interpreter (and a plain LiteRT "
        "app) does not link: it refuses to run it. modelspec exports LiteRT files with the builtin op set only, "
        "so that what it writes runs wherever LiteRT does.",
        example=spec("  - {type: lstm, units: 16}\n" + _DENSE_OUT, extra=_LITERT, input_shape="[20, 8]"),
        use_instead=spec(
            "  - {type: conv1d, filters: 16, kernel_size: 3, activation: relu}\n  - {type: global_average_pool1d}\n"
            + _DENSE_OUT,
            extra=_LITERT,
            input_shape="[20, 8]",
        ),
        known_problems="Calibration: docs/calibration.md, MS502's row: the converter fails where the rule says "
        "(tests/test_export_rules.py::test_the_converter_fails_where_the_rule_says).",
        references=f"{LITERT_OPS}\n{LITERT_RNN}\n{EXPORT_DOC}",
    ),
)

MS503 = Rule(
    code="MS503",
    name="normalization-for-onnx",
    level=Level.ERROR,
    summary="ONNX: a `normalization` layer's mean and variance become inputs of the graph",
    check=_normalization_for_onnx,
    formats=frozenset({"onnx"}),
    docs=Docs(
        what="With `onnx` among the spec's export formats, flags every `normalization` layer, with fixed "
        "statistics or with statistics held as its state.",
        why="Keras's `Normalization` computes with its mean and variance as tensors, not variables: the fixed "
        "values given as numbers, or the tensors it derives from its state variables. Traced for export, the "
        "model captures them, and tf2onnx 1.17's `from_function` (the route of Keras's ONNX export) names every "
        "captured tensor that is not a variable as an input of the ONNX graph. The file loads, but onnxruntime "
        "refuses to run it without values for those extra inputs, which no caller has. A `rescaling` layer "
        "computes with plain numbers, which the graph holds as constants.",
        example=spec(
            "  - {type: normalization, mean: 0.5, variance: 0.25, axis: null}\n"
            "  - {type: dense, units: 10, activation: softmax}\n",
            extra=_ONNX,
            input_shape="[3]",
        ),
        use_instead=spec(
            "  - {type: rescaling, scale: 2.0, offset: -1.0}\n  - {type: dense, units: 10, activation: softmax}\n",
            extra=_ONNX,
            input_shape="[3]",
        ),
        known_problems="Calibration: docs/calibration.md, MS503's row: the converter fails where the rule says "
        "(tests/test_export_rules.py::test_the_converter_fails_where_the_rule_says).",
        references=f"{TF2ONNX_OPS}\n{EXPORT_DOC}",
    ),
)
