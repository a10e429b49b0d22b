"""Pretrained weights: round trips in every format, mapping, freezing, the plan, errors and hostile files."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from modelspec import SpecError, build_model, lint, load_spec
from modelspec.errors import WeightsError
from modelspec.pipeline import build, prepare
from modelspec.pretrained.plan import plan_for

pytestmark = pytest.mark.tensorflow

BASE = {
    "modelspec": 1,
    "name": "base",
    "seed": 7,
    "input": {"shape": [6]},
    "layers": [
        {"type": "dense", "name": "hidden1", "units": 8, "activation": "relu"},
        {"type": "batch_norm", "name": "norm"},
        {"type": "dense", "name": "hidden2", "units": 5, "activation": "tanh"},
        {"type": "dense", "name": "head", "units": 3, "activation": "softmax"},
    ],
}
WEIGHTED = ["hidden1", "norm", "hidden2", "head"]


def _write(folder: Path, spec: dict, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _save(model, folder: Path, kind: str, spec: dict = BASE) -> Path:
    """Save ``model``'s weights as ``kind`` (h5, keras, npz) the way a user would (npz: the spec's names)."""
    if kind == "h5":
        path = folder / "base.weights.h5"
        model.save_weights(path)
    elif kind == "keras":
        path = folder / "base.keras"
        model.save(path)
    else:
        path = folder / "base.npz"
        layers = load_spec(spec).analysis.layers
        arrays = {
            f"{layer.name}/{info.name}": np.asarray(v)
            for layer in model.layers
            for info, v in zip(layers[layer.name].variables if layer.weights else [], layer.weights)
        }
        np.savez(path, **arrays)
    return path


def _values(model, name: str) -> list[np.ndarray]:
    return [np.asarray(v) for v in model.get_layer(name).weights]


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _derived(path: Path, **pretrained) -> dict:
    """A second spec: the base's body with a new 4-unit head, loading from ``path``."""
    spec = dict(BASE, name="derived")
    spec["layers"] = BASE["layers"][:3] + [{"type": "dense", "name": "new_head", "units": 4, "activation": "softmax"}]
    spec["pretrained"] = {"path": path.name, **pretrained}
    return spec


@pytest.fixture(scope="module")
def base_model():
    model = build_model(BASE)
    # Move the weights away from their initial values, so loading is distinguishable from reseeding.
    for variable in model.weights:
        variable.assign(np.asarray(variable) + np.random.default_rng(0).normal(size=variable.shape))
    return model


@pytest.mark.parametrize("kind", ["h5", "keras", "npz"])
def test_round_trip_loads_bit_identical_and_new_layers_are_seeded(tmp_path, base_model, kind):
    weights = _save(base_model, tmp_path, kind)
    spec = _write(tmp_path, _derived(weights))
    model = build_model(spec)
    for name in ["hidden1", "norm", "hidden2"]:
        assert _same(_values(model, name), _values(base_model, name)), name
    again = build_model(spec)
    assert _same(_values(model, "new_head"), _values(again, "new_head"))  # reproducible with the seed
    scratch = build_model(dict(_derived(weights), pretrained=None))
    assert _same(_values(model, "new_head"), _values(scratch, "new_head"))  # same as without pretrained
    assert not _same(_values(model, "hidden1"), _values(scratch, "hidden1"))


def test_frozen_layers_do_not_change_in_training_and_the_others_do(tmp_path, base_model):
    weights = _save(base_model, tmp_path, "h5")
    spec = _derived(weights, freeze=["hidden.*"])
    spec["training"] = {"optimizer": {"type": "sgd", "learning_rate": 0.1}, "loss": "categorical_crossentropy"}
    model = build_model(_write(tmp_path, spec))
    assert not model.get_layer("hidden1").trainable and not model.get_layer("hidden2").trainable
    assert model.get_layer("norm").trainable and model.get_layer("new_head").trainable
    before = {name: _values(model, name) for name in WEIGHTED[:3] + ["new_head"]}
    x = np.random.default_rng(1).normal(size=(16, 6)).astype("float32")
    y = np.eye(4, dtype="float32")[np.arange(16) % 4]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert _same(_values(model, "hidden1"), before["hidden1"])
    assert _same(_values(model, "hidden2"), before["hidden2"])
    assert not _same(_values(model, "new_head"), before["new_head"])
    assert not _same(_values(model, "norm")[:2], before["norm"][:2])


def test_freeze_true_and_layer_trainable_false(tmp_path, base_model):
    weights = _save(base_model, tmp_path, "npz")
    model = build_model(_write(tmp_path, _derived(weights, freeze=True)))
    assert [layer.trainable for layer in model.layers[1:]] == [False, False, False, True]
    spec = _derived(weights)
    spec["layers"][2] = dict(spec["layers"][2], trainable=False)
    model = build_model(_write(tmp_path, spec))
    assert not model.get_layer("hidden2").trainable and model.get_layer("hidden1").trainable


def test_map_loads_renamed_layers(tmp_path, base_model):
    weights = _save(base_model, tmp_path, "keras")
    spec = _derived(weights, map={"encoder": "hidden1"})
    spec["layers"][0] = dict(spec["layers"][0], name="encoder")
    model = build_model(_write(tmp_path, spec))
    assert _same(_values(model, "encoder"), _values(base_model, "hidden1"))


def test_weights_argument_overrides_the_spec(tmp_path, base_model):
    weights = _save(base_model, tmp_path, "h5")
    spec = _derived(tmp_path / "elsewhere.weights.h5")
    model = build_model(spec, weights=weights)
    assert _same(_values(model, "hidden1"), _values(base_model, "hidden1"))
    model = build_model(dict(BASE), weights=weights)  # no `pretrained:` block: by layer name
    assert _same(_values(model, "head"), _values(base_model, "head"))


def test_every_layer_kind_round_trips_through_keras_files(tmp_path):
    spec = {
        "modelspec": 1,
        "name": "kinds",
        "seed": 3,
        "input": {"shape": [5, 4]},
        "layers": [
            {"type": "conv1d", "name": "conv", "filters": 6, "kernel_size": 2},
            {"type": "layer_norm", "name": "ln"},
            {"type": "multi_head_attention", "name": "att", "num_heads": 2, "key_dim": 3},
            {"type": "bidirectional", "name": "bi", "layer": {"type": "lstm", "units": 3, "return_sequences": True}},
            {"type": "gru", "name": "gru", "units": 4},
            {"type": "dense", "name": "out", "units": 2},
        ],
    }
    first = build_model(spec)
    for variable in first.weights:
        variable.assign(np.asarray(variable) + 1.0 + np.arange(np.prod(variable.shape)).reshape(variable.shape) * 1e-3)
    for kind in ["h5", "keras", "npz"]:
        path = _save(first, tmp_path, kind, spec)
        second = build_model(dict(spec, seed=4), weights=path)
        for layer in first.layers[1:]:
            assert _same(_values(second, layer.name), _values(first, layer.name)), (kind, layer.name)


def test_plan_rows_and_totals(tmp_path, base_model):
    weights = _save(base_model, tmp_path, "h5")
    spec = _derived(weights, freeze=["hidden1"])
    plan = plan_for(load_spec(_write(tmp_path, spec)))
    rows = {row.layer: row for row in plan.layers}
    assert [rows[n].status for n in ["hidden1", "norm", "hidden2", "new_head"]] == ["frozen", "loaded", "loaded", "new"]
    assert rows["hidden1"].variables[0].expected == rows["hidden1"].variables[0].found == (6, 8)
    assert plan.unused == ["head"]


def test_shape_mismatch_names_everything(tmp_path, base_model):
    weights = _save(base_model, tmp_path, "h5")
    spec = _derived(weights)
    spec["layers"][2] = dict(spec["layers"][2], units=9)
    with pytest.raises(WeightsError) as caught:
        plan_for(load_spec(_write(tmp_path, spec)))
    assert str(caught.value) == (
        f"layer 'hidden2' (from 'hidden2' in {weights}): shape mismatch for kernel: expected (8, 9), found (8, 5)"
    )
    spec["pretrained"]["skip_mismatch"] = True
    plan = plan_for(load_spec(_write(tmp_path, spec)))
    assert [row.status for row in plan.layers] == ["loaded", "loaded", "skipped", "new"]
    assert plan.layers[2].reason == "shape mismatch for kernel: expected (8, 9), found (8, 5)"
    spec["layers"][0] = dict(spec["layers"][0], units=9)
    with pytest.raises(WeightsError, match=r"no layer would be loaded \(3 skipped by skip_mismatch\)"):
        plan_for(load_spec(_write(tmp_path, spec)))


def test_variable_count_mismatch(tmp_path, base_model):
    weights = _save(base_model, tmp_path, "h5")
    spec = _derived(weights)
    spec["layers"][0] = dict(spec["layers"][0], use_bias=False)
    with pytest.raises(
        WeightsError,
        match=r"layer 'hidden1' .*: variable count mismatch: expected 1 \(kernel\), "
        r"found 2",
    ):
        plan_for(load_spec(_write(tmp_path, spec)))


def test_zero_layers_loaded_is_an_error(tmp_path, base_model):
    weights = _save(base_model, tmp_path, "npz")
    spec = {**BASE, "layers": [{"type": "dense", "name": "x", "units": 3}], "pretrained": {"path": weights.name}}
    with pytest.raises(WeightsError, match="no layer would be loaded; layers in the file: hidden1, norm"):
        build_model(_write(tmp_path, spec))


@pytest.mark.parametrize(
    ("pretrained", "message", "where"),
    [
        ({"map": {"nope": "hidden1"}}, "map names no layer of this spec (received: 'nope')", (10, 5)),
        ({"map": {"new_head": "missing"}}, "map target 'missing' is not a layer with weights in", (10, 5)),
        ({"freeze": ["hid+en9"]}, "freeze pattern matches no layer with weights (received: 'hid+en9')", (10, 7)),
        ({"freeze": ["hidden("]}, "not a regular expression: missing ), unterminated subpattern", (10, 7)),
        ({"freeze": ["a" * 201]}, "freeze pattern longer than 200 characters", (10, 7)),
    ],
)
def test_spec_mistakes_are_located(tmp_path, base_model, pretrained, message, where):
    weights = _save(base_model, tmp_path, "h5")
    text = f"""modelspec: 1
name: derived
input: {{shape: [6]}}
layers:
  - {{type: dense, name: hidden1, units: 8}}
  - {{type: dense, name: new_head, units: 2}}
pretrained:
  path: {weights.name}
"""
    key, value = next(iter(pretrained.items()))
    if key == "map":
        ((k, v),) = value.items()
        text += f"  map:\n    {k}: {v}\n"
    else:
        text += f"  freeze:\n    - '{value[0]}'\n"
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        plan_for(load_spec(spec))
    (diagnostic,) = caught.value.diagnostics
    assert message in diagnostic.message
    assert (diagnostic.line, diagnostic.column) == where


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd.npz", "must be relative to the spec's folder"),
        ("C:/x.npz", "must be relative to the spec's folder"),
        ("a\\b.npz", "must be relative to the spec's folder"),
        ("../base.npz", "leaves the spec's tree"),
        ("sub/../../base.npz", "leaves the spec's tree"),
    ],
)
def test_spec_paths_may_not_leave_the_spec_tree(tmp_path, path, message):
    """Outside any project, and away from the current folder, a spec's tree is its own folder."""
    (tmp_path / "base.npz").write_bytes(b"")
    spec = tmp_path / "specs" / "spec.yaml"
    spec.parent.mkdir()
    spec.write_text(yaml.safe_dump(dict(BASE, pretrained={"path": path})), encoding="utf-8")
    with pytest.raises(SpecError, match=message) as caught:
        plan_for(load_spec(spec))
    assert caught.value.diagnostics[0].code == "MS401"
    assert [d.code for d in lint(spec)] == ["MS401"]  # lint and build agree


@pytest.mark.parametrize("marker", [".git", "pyproject.toml"])
def test_a_weights_folder_beside_specs_in_a_project_is_fine(tmp_path, base_model, marker):
    """The common layout: project/specs/x.yaml names ../weights/base.npz; lint passes and the build loads it."""
    project = tmp_path / "project"
    (project / "weights").mkdir(parents=True)
    if marker == ".git":
        (project / marker).mkdir()
    else:
        (project / marker).write_text("")
    _save(base_model, tmp_path, "npz").rename(project / "weights" / "base.npz")
    (project / "specs").mkdir()
    spec = _write(project / "specs", dict(BASE, pretrained={"path": "../weights/base.npz"}))
    assert lint(spec) == []
    assert plan_for(load_spec(spec)).loaded
    assert (
        build_model(spec).get_layer("hidden1").weights[0].numpy().tolist()
        == base_model.get_layer("hidden1").weights[0].numpy().tolist()
    )
    # Leaving the project is still refused.
    (tmp_path / "outside.npz").write_bytes(b"")
    outside = _write(project / "specs", dict(BASE, pretrained={"path": "../../outside.npz"}), "outside.yaml")
    assert [d.code for d in lint(outside)] == ["MS401"]
    with pytest.raises(SpecError, match="leaves the spec's tree"):
        plan_for(load_spec(outside))


def test_the_current_folder_counts_when_the_spec_is_inside_it(tmp_path, base_model, monkeypatch):
    (tmp_path / "specs").mkdir()
    _save(base_model, tmp_path, "npz")
    spec = _write(tmp_path / "specs", dict(BASE, pretrained={"path": "../base.npz"}))
    with pytest.raises(SpecError, match="leaves the spec's tree"):
        plan_for(load_spec(spec))
    monkeypatch.chdir(tmp_path)
    assert plan_for(load_spec(spec)).loaded
    assert lint(spec) == []


def test_inside_a_project_the_current_folder_widens_nothing(tmp_path, base_model, monkeypatch):
    # Run from `/` (or a home folder), the current folder holds every spec: it must not open the machine to a spec
    # of a project, as a pull request's spec checked in CI is.
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    (project / "pyproject.toml").write_text("", encoding="utf-8")
    _save(base_model, tmp_path, "npz")
    spec = _write(project / "specs", dict(BASE, pretrained={"path": "../../base.npz"}))
    for folder in (Path("/"), tmp_path):
        monkeypatch.chdir(folder)
        assert [d.code for d in lint(spec)] == ["MS401"]
        with pytest.raises(SpecError, match="leaves the spec's tree"):
            plan_for(load_spec(spec))


def test_a_missing_file_is_located_in_lint_and_build_alike(tmp_path):
    spec = _write(tmp_path, dict(BASE, pretrained={"path": "missing.weights.h5"}))
    with pytest.raises(SpecError) as caught:
        plan_for(load_spec(spec))
    (built,) = caught.value.diagnostics
    (linted,) = lint(spec)
    assert built == linted and built.code == "MS401"
    assert built.message == f"pretrained weights file 'missing.weights.h5' does not exist (looked in {tmp_path})"


def test_paths_inside_the_folder_and_command_line_paths_are_fine(tmp_path, base_model):
    (tmp_path / "sub").mkdir()
    weights = _save(base_model, tmp_path, "npz")
    assert plan_for(
        load_spec(_write(tmp_path / "sub", dict(BASE, pretrained={"path": "../base.npz"}))), weights=weights
    ).loaded
    (tmp_path / "sub" / "w").mkdir()
    weights.rename(tmp_path / "sub" / "w" / "base.npz")
    assert plan_for(load_spec(_write(tmp_path / "sub", dict(BASE, pretrained={"path": "w/./base.npz"})))).loaded


# --- unusable and hostile files -----------------------------------------------------------------------------


def _plan(folder: Path, name: str):
    return plan_for(load_spec(_write(folder, dict(BASE, pretrained={"path": name}))))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("base.pt", b"x", "not a weights file: the name must end in .weights.h5, .keras, .npz"),
        ("base.weights.h5", b"PK\x03\x04 not hdf5", "not an HDF5 file"),
        ("base.keras", b"\x89HDF\r\n\x1a\n", "not a zip archive"),
        ("base.npz", b"garbage", "not a zip archive"),
    ],
)
def test_unusable_files(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(WeightsError) as caught:
        _plan(tmp_path, name)
    assert str(caught.value).startswith(str(tmp_path / name) + ": ") and message in str(caught.value)


def _h5_with(path: Path, build) -> None:
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/dense/vars")
        group.attrs["name"] = "hidden1"
        build(f, group)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda f, g: g.__setitem__("0", h5py.ExternalLink("/etc/secret.h5", "/x")), "external link to another file"),
        (lambda f, g: g.__setitem__("0", h5py.SoftLink("/layers")), "soft link"),
        (lambda f, g: g.create_dataset("0", shape=(10**6, 10**6), dtype="float32"), "declares 4,000,000,000,000 bytes"),
        (
            lambda f, g: g.create_dataset(
                "0", shape=(10**5, 10**4), dtype="float32", chunks=(1000, 1000), compression="gzip"
            ),
            "declares 4,000,000,000 bytes",
        ),
        (
            lambda f, g: g.create_dataset("0", data=np.array([b"x"], dtype=object), dtype=h5py.string_dtype()),
            "not numbers",
        ),
    ],
)
def test_hostile_hdf5(tmp_path, build, message):
    _h5_with(tmp_path / "base.weights.h5", build)
    with pytest.raises(WeightsError, match=message):
        _plan(tmp_path, "base.weights.h5")


def test_hdf5_external_storage_is_refused(tmp_path):
    (tmp_path / "raw.bin").write_bytes(b"\0" * 192)
    _h5_with(
        tmp_path / "base.weights.h5",
        lambda f, g: g.create_dataset(
            "0", shape=(6, 8), dtype="float32", external=[(str(tmp_path / "raw.bin"), 0, 192)]
        ),
    )
    with pytest.raises(WeightsError, match="stores its data in another file"):
        _plan(tmp_path, "base.weights.h5")


def test_npz_refuses_pickles_and_lying_headers(tmp_path):
    np.savez(tmp_path / "base.npz", **{"hidden1/kernel": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(WeightsError, match="holds object values, not numbers"):
        _plan(tmp_path, "base.npz")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    with zipfile.ZipFile(tmp_path / "base.npz", "w") as archive:
        archive.writestr("hidden1/kernel.npy", header.getvalue() + b"\0" * 16)
    with pytest.raises(WeightsError, match="declares 4,000,000,000,000 bytes"):
        _plan(tmp_path, "base.npz")


def test_zip_bombs_are_refused(tmp_path):
    path = tmp_path / "base.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.weights.h5", b"\0" * 100_000)
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (2**32 - 1).to_bytes(4, "little")  # declared uncompressed size: 4 GiB
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="archive member 'model.weights.h5' declares 4,294,967,295 bytes"):
        _plan(tmp_path, "base.keras")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(WeightsError, match="holds no model.weights.h5"):
        _plan(tmp_path, "base.keras")


def test_keras_archive_config_is_never_read(tmp_path, base_model):
    path = _save(base_model, tmp_path, "keras")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["config.json"] = b'{"class_name": "Lambda", "config": {"function": "os.system"}}'
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    model = build_model(_write(tmp_path, dict(BASE, pretrained={"path": path.name})))
    assert _same(_values(model, "hidden1"), _values(base_model, "hidden1"))


def test_the_build_executes_the_plan_it_is_handed(tmp_path, base_model):
    # The plan printed before TensorFlow starts is the plan executed: the builder follows its rows, plans nothing.
    path = _save(base_model, tmp_path, "npz")
    prepared = prepare(_write(tmp_path, _derived(path)), lint=False)
    assert [row.layer for row in prepared.plan.loaded] == ["hidden1", "norm", "hidden2"]
    only_norm = replace(prepared.plan, layers=[row for row in prepared.plan.layers if row.layer != "hidden1"])
    model = build(replace(prepared, plan=only_norm))
    assert _same(_values(model, "norm"), _values(base_model, "norm"))
    assert not _same(_values(model, "hidden1"), _values(base_model, "hidden1"))  # not in the plan: left as built
