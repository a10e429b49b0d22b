"""`modelspec graph`: the grouping rule, the layout, the marks on the picture, and the command line (exit codes,
outputs checked before any work, atomic writes). Pure Python: no TensorFlow; the browser test is
tests/test_graph_browser.py."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, WITHOUT_TENSORFLOW, python, write_spec

from modelspec.cli import cli
from modelspec.diagnostics import Level
from modelspec.drawing import derive_groups, graph, group_name, make_picture
from modelspec.drawing.layout import BOX_H, BOX_W, compute_layout, place
from modelspec.drawing.style import LEVEL_COLOURS
from modelspec.linter.runner import lint
from modelspec.loader import load_spec

SPECS = ROOT / "specs"
RESNET50 = ROOT / "tests" / "data" / "graph" / "resnet50.yaml"  # modelspec import of keras.applications
DENSENET121 = ROOT / "tests" / "data" / "graph" / "densenet121.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def _needs(module: str):
    """The nox sessions install `.[test]` only: there a missing optional package skips, elsewhere it fails."""
    if WITHOUT_TENSORFLOW:
        return pytest.importorskip(module, reason=f"{module} is not installed in the TensorFlow-free sessions")
    return __import__(module)


def _picture(path):
    model = load_spec(path)
    return make_picture(model, lint(model))


def _laid_out(path):
    picture = _picture(path)
    return picture, compute_layout(picture)


# --- the grouping rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("conv2_block1_1_conv", "conv2_block1"),
        ("conv2_block1_add", "conv2_block1"),
        ("conv3_block7_0_bn", "conv3_block7"),
        ("block_3_expand_BN", "block_3"),
        ("block2a_se_squeeze", "block2a"),
        ("conv1_pad", "conv1"),
        ("pool2_bn", "pool2"),
        ("dense_1", None),
        ("predictions", None),
        ("expanded_conv_depthwise", None),
    ],
)
def test_group_name_follows_keras_application_names(name, group):
    assert group_name(name) == group


def test_groups_are_runs_of_consecutive_layers():
    groups = derive_groups(["conv1_pad", "conv1_conv", "dense", "b1_a", "b1_b", "b2_a", "x", "b1_c", "b1_d"])
    assert [(g.name, g.members) for g in groups] == [
        ("conv1", ("conv1_pad", "conv1_conv")),
        ("b1", ("b1_a", "b1_b")),
        ("b1#2", ("b1_c", "b1_d")),  # the same prefix again, apart: a second group
    ]


def test_resnet50_and_densenet121_groups():
    resnet = {g.name: g.members for g in _picture(RESNET50).groups}
    assert len(resnet["conv2_block1"]) == 12  # the projection shortcut (conv2_block1_0_*) included
    assert resnet["conv2_block1"][-1] == "conv2_block1_out"
    blocks = [f"conv{stage}_block{n}" for stage, count in ((2, 3), (3, 4), (4, 6), (5, 3)) for n in range(1, count + 1)]
    assert [name for name in resnet if name.startswith("conv")] == ["conv1", *blocks]
    densenet = {g.name: g.members for g in _picture(DENSENET121).groups}
    assert len(densenet["conv3_block7"]) == 7
    assert densenet["pool2"] == ("pool2_bn", "pool2_relu", "pool2_conv", "pool2_pool")
    assert sum(len(members) for members in densenet.values()) > 400


def test_groups_are_an_input():
    model = load_spec(SPECS / "resnet.yaml")
    from modelspec.drawing import Group

    picture = make_picture(model, [], [Group("head", ("global_average_pool2d", "classes"))])
    assert [g.name for g in picture.groups] == ["head"]
    assert picture.boxes["classes"].group == "head"
    with pytest.raises(ValueError, match="names no layer"):
        make_picture(model, [], [Group("bad", ("nope",))])


# --- the layout ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [SPECS / "resnet.yaml", SPECS / "multi_io.yaml", RESNET50])
def test_layout_edges_go_down_and_boxes_do_not_overlap(spec):
    picture, layout = _laid_out(spec)
    for source, target in picture.edges:
        assert layout.rank[source] < layout.rank[target]
        assert all(layout.rank[source] < rank < layout.rank[target] for _, rank in layout.routes[(source, target)])
    by_rank: dict[int, list[float]] = {}
    for name in picture.boxes:
        by_rank.setdefault(layout.rank[name], []).append(layout.x[name])
    for xs in by_rank.values():
        xs.sort()
        assert all(b - a >= BOX_W for a, b in zip(xs, xs[1:]))


def test_multi_input_wiring():
    picture, layout = _laid_out(SPECS / "multi_io.yaml")
    inputs = [name for name, box in picture.boxes.items() if box.type == "input"]
    assert len(inputs) == 2
    merges = [t for t in picture.boxes if sum(1 for _, target in picture.edges if target == t) > 1]
    assert merges  # a layer that takes several inputs gets one edge from each
    outputs = [name for name, box in picture.boxes.items() if box.output]
    assert len(outputs) == 2


def test_residual_edge_routed_beside_the_branch():
    picture, layout = _laid_out(SPECS / "resnet.yaml")
    skip = layout.routes[("stem", "b1_add")]
    assert skip  # it spans two ranks of the branch: dummy points
    branch = {layout.x["b1_conv1"], layout.x["b1_conv2"]}
    assert all(abs(x - bx) >= BOX_W / 2 for x, _ in skip for bx in branch)


def test_folding_hides_members_and_shrinks_the_picture():
    picture, layout = _laid_out(DENSENET121)
    names = [g.name for g in picture.groups]
    open_, folded = place(layout, picture, []), place(layout, picture, names)
    assert folded.height < open_.height / 4
    assert set(folded.folded) == set(names) and not folded.frames
    grouped = {m for g in picture.groups for m in g.members}
    assert not grouped & set(folded.boxes)
    for _, _, points in folded.edges:  # every edge still runs downwards
        ys = [y for _, y in points]
        assert ys == sorted(ys)
    one = place(layout, picture, ["conv3_block7"])
    assert one.height == open_.height - 6 * (BOX_H + 30)  # its seven rows became one


def test_densenet121_is_drawn_in_a_few_seconds(tmp_path):
    start = time.perf_counter()
    graph(DENSENET121, tmp_path / "densenet.svg", fold=False)
    seconds = time.perf_counter() - start
    assert seconds < 10, f"{seconds:.1f}s"  # about 1 s on one free core


# --- what the boxes say --------------------------------------------------------------------------------------


FINDINGS = """\
modelspec: 1
name: marked
input: {shape: [20]}
layers:
  - {type: dense, name: hidden, units: 32, activation: relu, kernel_initializer: glorot_uniform}
  - {type: dense, name: out, units: 3, activation: softmax}
"""


def _box(svg: str, name: str):
    root = ET.fromstring(svg)
    return next(g for g in root.iter(f"{SVG}g") if g.get("data-name") == name)


def test_finding_marks_its_layer(tmp_path):
    svg = graph(write_spec(tmp_path, FINDINGS))
    hidden = _box(svg, "hidden")
    title = hidden.find(f"{SVG}title").text
    assert "info[MS103]" in title
    assert hidden.find(f"{SVG}rect").get("stroke") == LEVEL_COLOURS[Level.INFO]
    assert "MS103" in [t.text for t in hidden.iter(f"{SVG}text")]  # the badge
    out = _box(svg, "out")
    assert "MS103" not in out.find(f"{SVG}title").text
    assert "info[MS109]" in svg  # no seed: a finding on the model, in the heading


def test_box_shows_type_shape_params_activation_and_auto_initializer(tmp_path):
    svg = graph(write_spec(tmp_path, FINDINGS))
    texts = [t.text for t in _box(svg, "out").iter(f"{SVG}text")]
    assert texts[:3] == ["out", "dense  (None, 3)", "99 params · softmax · glorot_uniform (auto)"]
    assert "he_normal (auto)" in graph(SPECS / "mlp.yaml")  # relu layers: what `auto` chose for them


def test_signal_bar_from_the_prediction(tmp_path):
    picture = _picture(SPECS / "resnet.yaml")
    assert picture.boxes["b1_conv1"].scale == pytest.approx(1.0, rel=0.5)
    assert picture.boxes["b1_conv2"].scale == 0  # a zeros kernel starts the residual branch at zero


# --- the command line ----------------------------------------------------------------------------------------


def _invoke(*args, runner=None):
    return (runner or CliRunner()).invoke(cli, ["graph", *map(str, args)], catch_exceptions=False)


@pytest.mark.parametrize("suffix", [".svg", ".html"])
def test_cli_writes_svg_and_html(tmp_path, suffix):
    out = tmp_path / f"resnet{suffix}"
    result = _invoke(SPECS / "resnet.yaml", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote {out}\n"
    text = out.read_text()
    if suffix == ".html":
        assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    else:
        ET.fromstring(text)  # well-formed XML
    assert not list(tmp_path.glob(".modelspec-*"))


def test_cli_png(tmp_path):
    _needs("matplotlib")
    out = tmp_path / "resnet.png"
    result = _invoke(SPECS / "resnet.yaml", "-o", out)
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[1] > image.size[0] > 800


def test_cli_default_output_and_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke(SPECS / "mlp.yaml")
    assert result.exit_code == 0 and (tmp_path / "mlp.svg").is_file()
    printed = _invoke(SPECS / "mlp.yaml", "-o", "-")
    assert printed.exit_code == 0 and printed.output.startswith("<svg")


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("picture.txt", "error: output: the file name must end in .svg or .html or .png (received: {tmp}/picture.txt)"),
        (
            "missing/picture.svg",
            "error: output: folder '{tmp}/missing' does not exist (received: {tmp}/missing/picture.svg)",
        ),
    ],
)
def test_cli_bad_output_refused_before_work(tmp_path, output, message):
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("modelspec: 1\nname: x\ninput: {shape: [3]}\nlayers: [{type: dense, units: 0}]\n")
    result = _invoke(bad_spec, "-o", tmp_path / output)  # the output is checked before the spec is read
    assert result.exit_code == 2
    assert result.output.strip() == message.format(tmp=tmp_path)


def test_cli_invalid_spec_leaves_the_previous_picture(tmp_path):
    out = tmp_path / "picture.svg"
    out.write_text("previous")
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("modelspec: 1\nname: x\ninput: {shape: [3]}\nlayers: [{type: dense, units: 0}]\n")
    result = _invoke(bad_spec, "-o", out)
    assert result.exit_code == 2
    assert f"{bad_spec}:4:" in result.output and "units" in result.output
    assert out.read_text() == "previous"
    assert not list(tmp_path.glob(".modelspec-*"))


def test_cli_help_names_formats_and_exit_codes():
    result = _invoke("--help")
    text = " ".join(result.output.split())
    assert "FILE.svg, FILE.html" in text and "Exit codes: 0 clean; 2" in text


def test_without_grandalf_says_which_extra_before_any_work(tmp_path):
    code = """
        import sys
        sys.modules["grandalf"] = None  # as if it were not installed
        sys.argv = ["modelspec", "graph", "no-such-spec.yaml", "-o", "out.svg"]  # said before the spec is read
        from modelspec.cli import main
        main()
    """
    done = python(code, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    wanted = 'error: modelspec graph needs the layout library grandalf: pip install "modelspec[graph]"'
    assert done.stderr.strip() == wanted
    assert not (tmp_path / "out.svg").exists()


def test_graph_never_imports_tensorflow(tmp_path):
    code = f"""
        import sys
        import modelspec
        modelspec.graph({str(RESNET50)!r}, "out.html")
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
    """
    done = python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert Path(tmp_path / "out.html").stat().st_size > 100_000


OPAQUE = """\
modelspec: 1
name: opaque
seed: 1
input: {shape: [8]}
layers:
  - {type: dense, name: first, units: 4, activation: softmax}
  - {type: keras, name: passed, class_name: UnitNormalization, config: {}}
  - {type: dense, name: last, units: 2, activation: softmax}
"""


def test_keras_layer_names_its_class_and_a_warning_is_orange(tmp_path):
    svg = graph(write_spec(tmp_path, OPAQUE))
    passed = [t.text for t in _box(svg, "passed").iter(f"{SVG}text")]
    assert passed[1] == "keras UnitNormalization  (None, 4)"
    first = _box(svg, "first")
    assert first.find(f"{SVG}rect").get("stroke") == LEVEL_COLOURS[Level.WARNING]
    assert "warning[MS203]" in first.find(f"{SVG}title").text
    assert "MS109" not in svg  # seeded: no finding on the model


TWO_PARTS = """\
modelspec: 1
name: two
seed: 3
inputs: [{name: a, shape: [4]}, {name: b, shape: [6]}]
layers:
  - {type: dense, name: da, inputs: [a], units: 3}
  - {type: dense, name: db, inputs: [b], units: 2}
  - {type: dense, name: db2, units: 2}
outputs: [da, db2]
"""


def test_unconnected_parts_side_by_side(tmp_path):
    picture, layout = _laid_out(write_spec(tmp_path, TWO_PARTS))
    assert layout.x["a"] == layout.x["da"] and layout.x["b"] == layout.x["db"] == layout.x["db2"]
    assert layout.x["b"] - layout.x["a"] >= BOX_W
    assert layout.rank == {"a": 0, "da": 1, "b": 0, "db": 1, "db2": 2}


@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_example_spec_is_drawn(spec):
    root = ET.fromstring(graph(spec))
    model = load_spec(spec)
    names = {g.get("data-name") for g in root.iter(f"{SVG}g") if g.get("data-name")}
    assert names == set(model.analysis.inputs) | set(model.analysis.layers)
    edges = sum(len(info.inputs) for info in model.analysis.layers.values())
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]) == edges


# --- --set PATH=VALUE ----------------------------------------------------------------------------------------

SETTABLE = """\
modelspec: 1
name: settable
seed: 1
input: {shape: [20]}
layers:
  - {type: dense, name: hidden, units: 32, activation: relu}
  - {type: dense, name: out, units: 3, activation: softmax}
"""


def _drawn(tmp_path, *sets):
    """The SVG `modelspec graph SETTABLE -o FILE.svg --set ...` writes, and the texts of each layer's box."""
    out = tmp_path / "settable.svg"
    arguments = [write_spec(tmp_path, SETTABLE), "-o", out]
    for option in sets:
        arguments += ["--set", option]
    result = _invoke(*arguments)
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    return svg, {name: [t.text for t in _box(svg, name).iter(f"{SVG}text")] for name in ("hidden", "out")}


def test_cli_set_changes_a_layer_s_box(tmp_path):
    _, plain = _drawn(tmp_path)
    assert plain["hidden"][1:3] == ["dense  (None, 32)", "672 params · relu · he_normal (auto)"]
    _, boxes = _drawn(tmp_path, "layers.hidden.units=64")
    assert boxes["hidden"][1:3] == ["dense  (None, 64)", "1,344 params · relu · he_normal (auto)"]  # 20·64 + 64
    assert boxes["out"][2] == "195 params · softmax · glorot_uniform (auto)"  # 64·3 + 3: the next layer follows
    _, by_position = _drawn(tmp_path, "layers.0.activation=tanh")
    assert by_position["hidden"][2] == "672 params · tanh · glorot_uniform (auto)"  # `auto` chose again


def test_cli_set_a_default_marks_the_finding_on_its_layer(tmp_path):
    svg, boxes = _drawn(tmp_path, "kernel_initializer=zeros")
    assert boxes["hidden"][2:] == ["672 params · relu · zeros", "MS101"]  # the badge
    hidden = _box(svg, "hidden")
    assert hidden.find(f"{SVG}rect").get("stroke") == LEVEL_COLOURS[Level.ERROR]
    assert "error[MS101] kernel of 'hidden' is zeros" in hidden.find(f"{SVG}title").text
    assert "MS101" not in _drawn(tmp_path)[0]
    # the finding still points at the spec file's line of that layer
    from modelspec.variants import overridden

    path = write_spec(tmp_path, SETTABLE)
    (finding,) = [f for f in lint(overridden(load_spec(path), ["kernel_initializer=zeros"])) if f.code == "MS101"]
    assert (finding.path, finding.line, finding.layer) == (str(path), 6, "hidden")


def test_cli_two_sets_compose_in_order(tmp_path):
    svg, boxes = _drawn(tmp_path, "layers.hidden.units=8", "kernel_initializer={type: random_normal, stddev: 0.05}")
    assert boxes["hidden"][1:3] == ["dense  (None, 8)", "168 params · relu · random_normal"]
    assert boxes["out"][2] == "27 params · softmax · random_normal"
    # later options see what earlier ones set: a mapping, then a field inside it
    _, boxes = _drawn(tmp_path, "layers.out.kernel_initializer={type: random_normal}",
                      "layers.out.kernel_initializer.stddev=2.0")  # fmt: skip
    assert boxes["out"][2] == "99 params · softmax · random_normal"
    from modelspec.variants import overridden, parse_set

    model = overridden(load_spec(SETTABLE), [parse_set("layers.out.kernel_initializer={type: random_normal}"),
                                             "layers.out.kernel_initializer.stddev=2.0"])  # fmt: skip
    assert model.analysis.layers["out"].initializers["kernel_initializer"].stddev == 2.0
    assert graph(SETTABLE, overrides=["name=renamed"]).count("renamed") >= 1  # the Python function takes them too


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("units", "error: --set takes PATH=VALUE (received: 'units')"),
        ("=3", "error: --set takes PATH=VALUE (received: '=3')"),
        ("layers..units=3", "error: --set 'layers..units=3': the field 'layers..units' has an empty part between dots"),
        ("seed=", "error: --set 'seed=': give a value after '=' (null for none)"),
        (
            "seed=1,2",
            "error: --set 'seed=1,2': give one value (a list in brackets: [a, b]; several values are --vary's)",
        ),
        (
            "seed={a",
            "error: --set 'seed={{a': the value is not YAML: invalid YAML: did not find expected ',' or '}}' "
            "(while parsing a flow mapping)",
        ),
        (
            "layers.hiden.units=3",
            "error: --set layers.hiden.units: the spec has no layer 'hiden'; did you mean 'hidden'?",
        ),
        ("layers.hidden=3", "error: --set layers.hidden: name a layer and its field (layers.NAME.FIELD)"),
        ("name.x=1", "error: --set name.x: name is not a mapping (received: settable)"),
        (
            "layers.hidden.units=0",
            "error: --set layers.hidden.units=0 makes the spec invalid: {spec}:6:33: "
            "layers[0].units: must be a positive integer (received: 0)",
        ),
        (
            "layers.hidden.unitz=3",
            "error: --set layers.hidden.unitz=3 makes the spec invalid: {spec}:6:5: "
            "layers[0].unitz: unknown field 'unitz'; did you mean 'units'?",
        ),
        (
            "trainin.epochs=3",
            "error: --set trainin.epochs=3 makes the spec invalid: {spec}:1:1: unknown field "
            "'trainin'; did you mean 'training'?",
        ),
        (
            f"layers.{'q' * 150}.units=3",
            "error: --set 'layers." + "q" * 73 + "...' (163 characters): the spec has no layer '" + "q" * 80 + "...' "
            "(150 characters)",
        ),
        (
            f"kernel_initializer={'z' * 200}",
            "error: --set 'kernel_initializer=" + "z" * 61 + "...' (219 characters) makes the spec invalid: {spec}:",
        ),
    ],
)
def test_cli_bad_set_exits_2_with_one_line(tmp_path, option, message):
    spec = write_spec(tmp_path, SETTABLE)
    out = tmp_path / "out.svg"
    result = _invoke(spec, "-o", out, "--set", option)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(message.format(spec=spec))
    assert not out.exists()


def test_cli_set_twice_and_the_invalid_one_named(tmp_path):
    spec = write_spec(tmp_path, SETTABLE)
    twice = _invoke(spec, "--set", "seed=1", "--set", "seed=2")
    assert twice.exit_code == 2 and twice.output == "error: two --set options set seed: give it one value\n"
    second = _invoke(spec, "--set", "layers.hidden.units=8", "--set", "layers.out.units=-1")
    assert second.exit_code == 2
    assert second.output.startswith("error: --set layers.out.units=-1 makes the spec invalid: ")


def test_cli_set_never_imports_tensorflow(tmp_path):
    spec = write_spec(tmp_path, SETTABLE)
    code = f"""
        import sys
        from click.testing import CliRunner
        from modelspec.cli import cli
        for option in ("kernel_initializer=zeros", "layers.hidden.units=0"):
            result = CliRunner().invoke(cli, ["graph", {str(spec)!r}, "-o", "out.svg", "--set", option])
            print(result.exit_code)
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
    """
    done = python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "2", "[]"]


def test_set_keeps_the_file_s_inline_ignores_and_writes_its_own_data(tmp_path):
    spec = write_spec(tmp_path, FINDINGS.replace("glorot_uniform}", "glorot_uniform}  # modelspec: ignore[MS103]"))
    assert "MS103" not in graph(spec)
    assert "MS103" not in graph(spec, overrides=["layers.out.units=4"])  # the comment is on the same line still
    from modelspec.pipeline import spec_text
    from modelspec.variants import overridden

    model = overridden(load_spec(spec), ["layers.out.units=4"])
    assert "  units: 4\n" in spec_text(model) and "  units: 3\n" not in spec_text(model)  # what a build embeds


def test_set_is_said_in_the_heading_above_the_model_s_findings(tmp_path):
    svg = graph(write_spec(tmp_path, FINDINGS), overrides=["layers.hidden.units=8", "name=renamed"])
    heading = [(t.text, t.get("style")) for t in ET.fromstring(svg).iter(f"{SVG}text") if t.get("class") == "head"]
    assert heading[0] == ("drawn with --set layers.hidden.units=8, name=renamed", None)
    (seedless,) = [(text, style) for text, style in heading if "MS109" in text]
    assert seedless[1] == f"fill:{LEVEL_COLOURS[Level.INFO]}"  # the model's findings keep their colour below it
    assert "drawn with" not in graph(write_spec(tmp_path, FINDINGS))


def test_overrides_in_python_one_string_or_records(tmp_path):
    from modelspec.errors import SettingsError
    from modelspec.variants import parse_set, parse_vary

    assert "dense  (None, 7)" in graph(SETTABLE, overrides="layers.hidden.units=7")  # one string: one override
    assert "dense  (None, 7)" in graph(SETTABLE, overrides=[parse_set("layers.0.units=7")])
    with pytest.raises(SettingsError, match=r"^--set seed: an override sets one value, not 2$"):
        graph(SETTABLE, overrides=[parse_vary("seed=1,2")])
