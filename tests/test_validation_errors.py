"""Golden text of every kind of validation error: `file:line:col: error[CODE] where: message`, exactly.

Each case writes `spec.yaml` into a fresh folder and loads it from there, so the path in every message is
`spec.yaml`. A change of wording or position is meant to show up here as a visible diff.
"""

from __future__ import annotations

import pytest

from modelspec import SpecError, load_spec

HEAD = "modelspec: 1\ninput: {shape: [4]}\n"


def errors_of(folder, monkeypatch, content) -> str:
    """Load ``content`` (text or bytes) as ``spec.yaml`` and return every diagnostic, formatted, one per line."""
    monkeypatch.chdir(folder)
    path = folder / "spec.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec("spec.yaml")
    assert caught.value.diagnostics, "a SpecError always carries its diagnostics"
    return "\n".join(d.format() for d in caught.value.diagnostics)


CASES = {
    # --- reading the file -------------------------------------------------------------------------------
    "bad_yaml_syntax": (
        "modelspec: 1\ninput: {shape: [4]\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:3:1: error[MS001] invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping)",
    ),
    "duplicate_key": (
        HEAD + "layers:\n  - type: dense\n    units: 2\n    units: 3\n",
        "spec.yaml:6:5: error[MS001] duplicate key 'units' (first defined on line 5)",
    ),
    "duplicate_top_level_key": (
        HEAD + "layers:\n  - {type: dense, units: 2}\nname: a\nname: b\n",
        "spec.yaml:6:1: error[MS001] duplicate key 'name' (first defined on line 5)",
    ),
    "object_tag_on_mapping": (
        "modelspec: 1\ninput: !!python/object:os.system {shape: [4]}\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:2:8: error[MS001] YAML tag '!!python/object:os.system' is not allowed: a spec is plain data",
    ),
    "object_tag_on_scalar": (
        HEAD + "layers:\n  - {type: dense, units: !!python/name:os.system }\n",
        "spec.yaml:4:26: error[MS001] YAML tag '!!python/name:os.system' is not allowed: a spec is plain data, "
        "so only the core tags (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq) are accepted",
    ),
    "several_documents": (
        HEAD + "layers:\n  - {type: dense, units: 2}\n---\nmodelspec: 1\n",
        "spec.yaml:5:1: error[MS001] a spec file holds one YAML document; found a second",
    ),
    "root_is_a_list": (
        "- modelspec: 1\n- layers: []\n",
        "spec.yaml:1:1: error[MS001] a spec must be a mapping with `modelspec:` and `layers:` (received: a list)",
    ),
    "empty_file": (
        "",
        "spec.yaml:1:1: error[MS001] the file is empty; a spec is a mapping with `modelspec:` and `layers:`",
    ),
    "only_comments": (
        "# nothing here\n",
        "spec.yaml:1:1: error[MS001] the file is empty; a spec is a mapping with `modelspec:` and `layers:`",
    ),
    "not_utf8": (b"modelspec: 1\nname: caf\xe9\n", "spec.yaml:2:10: error[MS001] file is not valid UTF-8 (byte 0xe9)"),
    "non_string_key": (
        HEAD + "layers:\n  - {type: dense, units: 2, 1: 2}\n",
        "spec.yaml:4:29: error[MS001] mapping keys must be strings (received: 1)\n  hint: quote the key: '1'",
    ),
    "ambiguous_octal": (
        HEAD + "layers:\n  - {type: dense, units: 010}\n",
        "spec.yaml:4:26: error[MS001] ambiguous number '010': YAML 1.1 reads it as octal, YAML 1.2 as decimal\n"
        "  hint: write 10 for decimal or 0o10 for octal",
    ),
    # --- unknown names, with suggestions ----------------------------------------------------------------
    "unknown_key": (
        HEAD + "layers:\n  - {type: dense, unit: 2}\n",
        "spec.yaml:4:19: error[MS001] layers[0].unit: unknown field 'unit'; did you mean 'units'?",
    ),
    "unknown_top_level_key": (
        HEAD + "layer:\n  - {type: dense, units: 2}\n",
        "spec.yaml:3:1: error[MS001] layer: unknown field 'layer'; did you mean 'layers'?",
    ),
    "pytorch_synonym": (
        HEAD + "layers:\n  - {type: dense, units: 2}\ntraining:\n  optimizer: {type: adam, lr: 0.1}\n  loss: mse\n",
        "spec.yaml:6:27: error[MS001] training.optimizer.lr: unknown field 'lr'; did you mean 'learning_rate'?",
    ),
    "unknown_initializer_parameter": (
        HEAD + "layers:\n  - type: dense\n    units: 2\n    kernel_initializer: {type: random_normal, stdev: 0.1}\n",
        "spec.yaml:6:47: error[MS001] layers[0].kernel_initializer.stdev: unknown field 'stdev'; "
        "did you mean 'stddev'?",
    ),
    "unknown_key_in_wrapped_layer": (
        "modelspec: 1\ninput: {shape: [8, 3]}\nlayers:\n  - {type: bidirectional, layer: {type: lstm, unit: 2}}\n",
        "spec.yaml:4:47: error[MS001] layers[0].layer.unit: unknown field 'unit'; did you mean 'units'?",
    ),
    "unknown_layer_type": (
        HEAD + "layers:\n  - {type: dens, units: 2}\n",
        "spec.yaml:4:6: error[MS001] layers[0].type: unknown layer type 'dens'; did you mean 'dense'?",
    ),
    "layer_type_not_a_string": (
        HEAD + "layers:\n  - {type: 3, units: 2}\n",
        "spec.yaml:4:6: error[MS001] layers[0].type: must be a type name such as 'dense' (received: 3)",
    ),
    "bidirectional_wraps_a_dense_layer": (
        "modelspec: 1\ninput: {shape: [8, 3]}\nlayers:\n  - {type: bidirectional, layer: {type: dense, units: 2}}\n",
        "spec.yaml:4:35: error[MS001] layers[0].layer.type: unknown recurrent layer type 'dense' (expected one of: "
        "lstm, gru, simple_rnn)",
    ),
    "unknown_activation": (
        HEAD + "layers:\n  - {type: dense, units: 2, activation: rleu}\n",
        "spec.yaml:4:29: error[MS001] layers[0].activation: unknown activation 'rleu'; did you mean 'relu'?",
    ),
    "unknown_initializer": (
        HEAD + "layers:\n  - {type: dense, units: 2, kernel_initializer: he_normall}\n",
        "spec.yaml:4:29: error[MS001] layers[0].kernel_initializer: unknown initializer 'he_normall'; "
        "did you mean 'he_normal'?",
    ),
    "unknown_initializer_in_mapping": (
        HEAD + "layers:\n  - type: dense\n    units: 2\n    kernel_initializer: {type: glorot_unifrom}\n",
        "spec.yaml:6:5: error[MS001] layers[0].kernel_initializer: unknown initializer 'glorot_unifrom'; "
        "did you mean 'glorot_uniform'?",
    ),
    "unknown_loss": (
        HEAD + "layers:\n  - {type: dense, units: 2}\ntraining:\n  optimizer: adam\n"
        "  loss: categorical_crossentropyy\n",
        "spec.yaml:7:3: error[MS001] training.loss: unknown loss 'categorical_crossentropyy'; "
        "did you mean 'categorical_crossentropy'?",
    ),
    "forbidden_keras_layer": (
        HEAD + "layers:\n  - {type: keras, class_name: Lambda}\n",
        "spec.yaml:4:19: error[MS001] layers[0].class_name: 'Lambda' is not an allowed Keras layer (layers that run "
        "code or read files, such as Lambda or TFSMLayer, are never allowed)",
    ),
    # --- wrong types ------------------------------------------------------------------------------------
    "true_for_an_int": (
        HEAD + "layers:\n  - {type: dense, units: true}\n",
        "spec.yaml:4:19: error[MS001] layers[0].units: must be an integer (received: true)",
    ),
    "float_for_an_int": (
        HEAD + "layers:\n  - {type: dense, units: 3.0}\n",
        "spec.yaml:4:19: error[MS001] layers[0].units: must be an integer (received: 3.0)",
    ),
    "string_for_a_number": (
        HEAD + "layers:\n  - {type: dense, units: 2}\n  - {type: dropout, rate: high}\n",
        "spec.yaml:5:21: error[MS001] layers[1].rate: must be a number (received: 'high')",
    ),
    "yes_for_a_bool": (
        HEAD + "layers:\n  - {type: dense, units: 2, use_bias: yes}\n",
        "spec.yaml:4:29: error[MS001] layers[0].use_bias: must be true or false (received: 'yes')\n"
        "  hint: YAML 1.2 booleans are true and false only",
    ),
    "string_for_the_layer_list": (
        HEAD + "layers: dense\n",
        "spec.yaml:3:1: error[MS001] layers: must be a list (received: 'dense')",
    ),
    "string_for_a_layer": (
        HEAD + "layers:\n  - dense\n",
        "spec.yaml:4:5: error[MS001] layers[0]: must be a mapping (received: 'dense')",
    ),
    "number_for_a_reference": (
        HEAD + "layers:\n  - {type: dense, units: 2, inputs: [3]}\n",
        "spec.yaml:4:38: error[MS001] layers[0].inputs[0]: must be a string (received: 3)",
    ),
    "wrong_format_version": (
        "modelspec: 2\ninput: {shape: [4]}\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:1:1: error[MS001] modelspec: must be 1 (received: 2)",
    ),
    # --- impossible values ------------------------------------------------------------------------------
    "zero_units": (
        HEAD + "layers:\n  - {type: dense, units: 0}\n",
        "spec.yaml:4:19: error[MS001] layers[0].units: must be a positive integer (received: 0)",
    ),
    "rate_above_one": (
        HEAD + "layers:\n  - {type: dropout, rate: 1.5}\n",
        "spec.yaml:4:21: error[MS001] layers[0].rate: must be less than 1.0 (received: 1.5)",
    ),
    "nan": (
        HEAD + "layers:\n  - {type: gaussian_noise, stddev: .nan}\n",
        "spec.yaml:4:28: error[MS001] layers[0].stddev: must be a finite number (received: .nan)",
    ),
    "infinity": (
        HEAD + "layers:\n  - {type: rescaling, scale: .inf}\n",
        "spec.yaml:4:23: error[MS001] layers[0].scale: must be a finite number (received: .inf)",
    ),
    "zero_in_input_shape": (
        "modelspec: 1\ninput: {shape: [0]}\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:2:17: error[MS001] input.shape[0]: must be a positive integer (received: 0)",
    ),
    "negative_seed": (
        "modelspec: 1\nseed: -1\ninput: {shape: [4]}\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:2:1: error[MS001] seed: must be at least 0 (received: -1)",
    ),
    "no_layers": (
        HEAD + "layers: []\n",
        "spec.yaml:3:1: error[MS001] layers: must have at least 1 item(s) (received: [])",
    ),
    "bad_layer_name": (
        HEAD + "layers:\n  - {type: dense, units: 2, name: 1abc}\n",
        "spec.yaml:4:29: error[MS001] layers[0].name: must be a name: a letter, then up to 63 letters, digits, "
        "'_' or '-' (received: '1abc')",
    ),
    "kernel_size_per_axis": (
        "modelspec: 1\ninput: {shape: [4, 4, 1]}\nlayers:\n  - {type: conv2d, filters: 2, kernel_size: [3, 3, 3]}\n",
        "spec.yaml:4:32: error[MS001] layers[0].kernel_size: kernel_size needs 2 value(s), one per spatial axis "
        "(received: [3, 3, 3])",
    ),
    "strides_with_dilation": (
        "modelspec: 1\ninput: {shape: [8, 4, 1]}\nlayers:\n"
        "  - {type: conv2d, filters: 2, kernel_size: 3, strides: 2, dilation_rate: 2}\n",
        "spec.yaml:4:60: error[MS001] layers[0].dilation_rate: strides > 1 cannot be combined with "
        "dilation_rate > 1 (Keras refuses it)",
    ),
    "transposed_strides_with_dilation": (
        "modelspec: 1\ninput: {shape: [6, 6, 1]}\nlayers:\n"
        "  - {type: conv2d_transpose, filters: 2, kernel_size: 3, strides: 2, dilation_rate: 2}\n",
        "spec.yaml:4:70: error[MS001] layers[0].dilation_rate: strides > 1 cannot be combined with "
        "dilation_rate > 1 (Keras refuses it)",
    ),
    "uniform_bounds": (
        HEAD + "layers:\n  - type: dense\n    units: 2\n"
        "    kernel_initializer: {type: random_uniform, minval: 1, maxval: 0}\n",
        "spec.yaml:6:59: error[MS001] layers[0].kernel_initializer.maxval: maxval must be greater than minval "
        "(received: minval=1.0, maxval=0.0)",
    ),
    "loss_option_it_does_not_take": (
        HEAD + "layers:\n  - {type: dense, units: 2}\ntraining:\n  optimizer: adam\n"
        "  loss: {type: mse, from_logits: true}\n",
        "spec.yaml:7:21: error[MS001] training.loss.from_logits: mean_squared_error does not take from_logits",
    ),
    "path_in_keras_config": (
        HEAD + "layers:\n  - {type: keras, class_name: Masking, config: {mask_value: /etc/passwd}}\n",
        "spec.yaml:4:40: error[MS001] layers[0].config: config.mask_value: strings may only hold letters, digits "
        "and _.+- (no paths or URLs) (received: '/etc/passwd')",
    ),
    # --- missing fields and input forms -----------------------------------------------------------------
    "missing_field": (
        HEAD + "layers:\n  - {type: dense}\n",
        "spec.yaml:4:5: error[MS001] layers[0].units: missing required field 'units'",
    ),
    "missing_type": (
        HEAD + "layers:\n  - {units: 2}\n",
        "spec.yaml:4:5: error[MS001] layers[0]: missing required field 'type'",
    ),
    "missing_version": (
        "input: {shape: [4]}\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:1:1: error[MS001] modelspec: missing required field 'modelspec'",
    ),
    "both_input_and_inputs": (
        HEAD + "inputs:\n  - {shape: [4]}\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:3:1: error[MS001] inputs: give exactly one of `input` (one input) or `inputs` (a list), not both",
    ),
    "neither_input_nor_inputs": (
        "modelspec: 1\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:1:1: error[MS001] missing required field 'input' (or 'inputs' for several inputs)",
    ),
    # --- references: MS003 ------------------------------------------------------------------------------
    "unknown_reference_in_inputs": (
        HEAD + "layers:\n  - {type: dense, name: hidden, units: 2}\n"
        "  - {type: dense, name: out, units: 2, inputs: [hiden]}\n",
        "spec.yaml:5:49: error[MS003] out: unknown layer or input 'hiden'; did you mean 'hidden'?",
    ),
    "unknown_reference_in_outputs": (
        HEAD + "layers:\n  - {type: dense, name: hidden, units: 2}\noutputs: [hiddn]\n",
        "spec.yaml:5:11: error[MS003] unknown output layer 'hiddn'; did you mean 'hidden'?",
    ),
    "cycle": (
        HEAD + "layers:\n  - {type: dense, name: a, units: 4, inputs: [b]}\n"
        "  - {type: dense, name: b, units: 4, inputs: [a]}\n  - {type: dense, name: c, units: 4, inputs: [input]}\n"
        "outputs: [c]\n",
        "spec.yaml:4:38: error[MS003] a: layers form a cycle: a -> b",
    ),
    "first_layer_of_several_inputs_unwired": (
        "modelspec: 1\ninputs:\n  - {name: a, shape: [2]}\n  - {name: b, shape: [2]}\nlayers:\n"
        "  - {type: dense, units: 2}\n",
        "spec.yaml:6:5: error[MS003] dense: the first layer must name its `inputs:` when the model has several",
    ),
    "loss_count_differs_from_outputs": (
        HEAD + "layers:\n  - {type: dense, name: a, units: 2}\n  - {type: dense, name: b, units: 1, inputs: [input]}\n"
        "outputs: [a, b]\ntraining:\n  optimizer: adam\n  loss: [mse, mse, mse]\n",
        "spec.yaml:9:3: error[MS001] training.loss: needs one loss per output, 2 here (a, b) (received: 3 losses)",
    ),
    # --- graph structure --------------------------------------------------------------------------------
    "dangling_layer": (
        HEAD + "layers:\n  - {type: dense, name: a, units: 4}\n  - {type: dense, name: b, units: 4, inputs: [input]}\n",
        "spec.yaml:4:5: error[MS001] a: layer 'a' does not lead to any output\n"
        "  hint: add it to `outputs:` or remove it",
    ),
    "unused_input": (
        "modelspec: 1\ninputs:\n  - {name: a, shape: [2]}\n  - {name: b, shape: [2]}\nlayers:\n"
        "  - {type: dense, units: 2, inputs: [a]}\n",
        "spec.yaml:4:5: error[MS001] input 'b' is not used by any output\n  hint: remove it or wire it with `inputs:`",
    ),
    "duplicate_layer_name": (
        HEAD + "layers:\n  - {type: dense, name: a, units: 4}\n  - {type: dense, name: a, units: 4}\n",
        "spec.yaml:5:19: error[MS001] a: duplicate name 'a'",
    ),
    "merge_with_one_input": (
        HEAD + "layers:\n  - {type: dense, name: a, units: 4}\n  - {type: add, inputs: [a]}\n",
        "spec.yaml:5:17: error[MS001] add: add takes at least 2 input(s) (received: 1)",
    ),
    "merge_with_implicit_single_input": (
        HEAD + "layers:\n  - {type: dense, units: 4}\n  - {type: concatenate}\n",
        "spec.yaml:5:5: error[MS001] concatenate: concatenate takes at least 2 input(s) (received: 1)",
    ),
    "subtract_with_three_inputs": (
        HEAD + "layers:\n  - {type: dense, name: a, units: 4}\n  - {type: subtract, inputs: [a, a, a]}\n",
        "spec.yaml:5:22: error[MS001] subtract: subtract takes 2 input(s) (received: 3)",
    ),
    "attention_with_four_inputs": (
        "modelspec: 1\ninput: {shape: [4, 2]}\nlayers:\n"
        "  - {type: multi_head_attention, num_heads: 2, key_dim: 2, inputs: [input, input, input, input]}\n",
        "spec.yaml:4:60: error[MS001] multi_head_attention: multi_head_attention takes 1 to 3 input(s) (received: 4)",
    ),
    # --- shapes: MS002 ----------------------------------------------------------------------------------
    "add_of_different_shapes": (
        HEAD + "layers:\n  - {type: dense, name: a, units: 4}\n  - {type: dense, name: b, units: 3, inputs: [input]}\n"
        "  - {type: add, inputs: [a, b]}\n",
        "spec.yaml:6:5: error[MS002] add: add needs inputs of the same shape (received shapes: (4,), (3,))",
    ),
    "concatenate_of_mismatched_axes": (
        "modelspec: 1\ninputs:\n  - {name: a, shape: [2, 3]}\n  - {name: b, shape: [4, 3]}\nlayers:\n"
        "  - {type: concatenate, inputs: [a, b]}\n",
        "spec.yaml:6:5: error[MS002] concatenate: concatenate on axis -1 needs the other axes to match "
        "(received shapes: (2, 3), (4, 3))",
    ),
    "reshape_to_wrong_size": (
        HEAD + "layers:\n  - {type: reshape, target_shape: [3, 2]}\n",
        "spec.yaml:4:5: error[MS002] reshape: cannot reshape (4,) (4 values) to (3, 2) (6 values)\n"
        "  hint: input shape: (None, 4)",
    ),
    "conv_kernel_bigger_than_input": (
        "modelspec: 1\ninput: {shape: [4, 4, 1]}\nlayers:\n  - {type: conv2d, filters: 2, kernel_size: 5}\n",
        "spec.yaml:4:5: error[MS002] conv2d: window of size 5 does not fit an input of length 4 with padding "
        "'valid' (output length would be 0)\n  hint: input shape: (None, 4, 4, 1)",
    ),
    "conv_on_flat_input": (
        HEAD + "layers:\n  - type: conv2d\n    filters: 2\n    kernel_size: 3\n",
        "spec.yaml:4:5: error[MS002] conv2d: conv2d expects inputs of rank 3 (spatial axes then channels), batch axis "
        "excluded (received shape: (4,))",
    ),
    "rnn_on_flat_input": (
        HEAD + "layers:\n  - {type: lstm, units: 2}\n",
        "spec.yaml:4:5: error[MS002] lstm: lstm expects inputs of rank 2 (timesteps, features), batch axis excluded "
        "(received shape: (4,))",
    ),
    "groups_do_not_divide_channels": (
        "modelspec: 1\ninput: {shape: [8, 8, 3]}\nlayers:\n  - {type: conv2d, filters: 4, kernel_size: 3, groups: 2}\n",
        "spec.yaml:4:5: error[MS002] conv2d: input channels (3) must be divisible by groups (2)\n"
        "  hint: input shape: (None, 8, 8, 3)",
    ),
    "dense_on_unknown_feature_axis": (
        "modelspec: 1\ninput: {shape: [null]}\nlayers:\n  - {type: dense, units: 2}\n",
        "spec.yaml:4:5: error[MS002] dense: dense needs a known last dimension (received: None)",
    ),
    "attention_on_flat_input": (
        HEAD + "layers:\n  - {type: multi_head_attention, num_heads: 2, key_dim: 2}\n",
        "spec.yaml:4:5: error[MS002] multi_head_attention: query must have a sequence axis and a feature axis "
        "(received shape: (4,))",
    ),
    "attention_key_and_value_lengths_differ": (
        "modelspec: 1\ninputs:\n  - {name: q, shape: [3, 4]}\n  - {name: v, shape: [5, 4]}\n"
        "  - {name: k, shape: [6, 4]}\nlayers:\n"
        "  - {type: multi_head_attention, num_heads: 1, key_dim: 2, inputs: [q, v, k]}\n",
        "spec.yaml:7:5: error[MS002] multi_head_attention: value and key must have the same shape except for the "
        "last axis (received shapes: value (5, 4), key (6, 4))",
    ),
    "permute_not_a_permutation": (
        "modelspec: 1\ninput: {shape: [4, 3]}\nlayers:\n  - {type: permute, dims: [1, 1]}\n",
        "spec.yaml:4:5: error[MS002] permute: dims must be a permutation of 1..2 for input shape (4, 3) "
        "(received: [1, 1])",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_golden_error_text(tmp_path, monkeypatch, case):
    content, expected = CASES[case]
    assert errors_of(tmp_path, monkeypatch, content) == expected


def test_block_style_positions_point_at_the_key(tmp_path, monkeypatch):
    """A field's error points at its key, in block style as in flow style."""
    text = HEAD + "layers:\n  - type: dense\n    name: hidden\n    units: 0\n    activation: rleu\n"
    assert errors_of(tmp_path, monkeypatch, text) == (
        "spec.yaml:6:5: error[MS001] layers[0].units: must be a positive integer (received: 0)\n"
        "spec.yaml:7:5: error[MS001] layers[0].activation: unknown activation 'rleu'; did you mean 'relu'?"
    )


def test_dense_after_a_4d_convolution_is_not_a_mismatch():
    """Keras applies dense to the last axis of any rank, so the analysis must accept it too."""
    loaded = load_spec(
        "modelspec: 1\ninput: {shape: [6, 6, 1]}\nlayers:\n  - {type: conv2d, filters: 2, "
        "kernel_size: 3}\n  - {type: dense, units: 5}\n"
    )
    assert loaded.analysis.layers["dense"].output_shape == (4, 4, 5)


# --- several errors are all reported at once -----------------------------------------------------------------


def test_every_schema_error_in_a_file_is_reported(tmp_path, monkeypatch):
    text = (
        HEAD + "layers:\n  - {type: dense, units: 0}\n  - {type: dropout, rate: 1.5}\n  - {type: dense, unit: 3}\n"
        "  - {type: dens, units: 2}\n  - {type: dense, units: 2, activation: rleu, use_bias: 1}\n"
    )
    assert errors_of(tmp_path, monkeypatch, text) == "\n".join(
        [
            "spec.yaml:4:19: error[MS001] layers[0].units: must be a positive integer (received: 0)",
            "spec.yaml:5:21: error[MS001] layers[1].rate: must be less than 1.0 (received: 1.5)",
            "spec.yaml:6:19: error[MS001] layers[2].unit: unknown field 'unit'; did you mean 'units'?",
            "spec.yaml:7:6: error[MS001] layers[3].type: unknown layer type 'dens'; did you mean 'dense'?",
            "spec.yaml:8:29: error[MS001] layers[4].activation: unknown activation 'rleu'; did you mean 'relu'?",
            "spec.yaml:8:47: error[MS001] layers[4].use_bias: must be true or false (received: 1)",
        ]
    )


def test_every_reference_error_in_a_file_is_reported(tmp_path, monkeypatch):
    text = (
        HEAD + "layers:\n  - {type: dense, name: a, units: 4}\n  - {type: dense, name: a, units: 4}\n"
        "  - {type: dense, name: b, units: 4, inputs: [aa, inptu]}\n  - {type: add, name: c, inputs: [b]}\n"
        "outputs: [c, d]\n"
    )
    assert errors_of(tmp_path, monkeypatch, text) == "\n".join(
        [
            "spec.yaml:5:19: error[MS001] a: duplicate name 'a'",
            "spec.yaml:6:38: error[MS001] b: dense takes 1 input(s) (received: 2)",
            "spec.yaml:6:47: error[MS003] b: unknown layer or input 'aa'; did you mean 'a'?",
            "spec.yaml:6:51: error[MS003] b: unknown layer or input 'inptu'; did you mean 'input'?",
            "spec.yaml:7:26: error[MS001] c: add takes at least 2 input(s) (received: 1)",
            "spec.yaml:8:14: error[MS003] unknown output layer 'd'",
        ]
    )


def test_every_shape_error_in_a_file_is_reported(tmp_path, monkeypatch):
    """Independent branches both fail; a layer after a failed one is not blamed for its unknown input."""
    text = (
        "modelspec: 1\ninputs:\n  - {name: x, shape: [4]}\n  - {name: y, shape: [5]}\nlayers:\n"
        "  - {type: reshape, name: rx, target_shape: [3], inputs: [x]}\n"
        "  - {type: lstm, name: ry, units: 2, inputs: [y]}\n"
        "  - {type: dense, name: after, units: 2, inputs: [rx]}\n"
        "  - {type: concatenate, inputs: [after, ry]}\n"
    )
    assert errors_of(tmp_path, monkeypatch, text) == "\n".join(
        [
            "spec.yaml:6:5: error[MS002] rx: cannot reshape (4,) (4 values) to (3,) (3 values)",
            "  hint: input shape: (None, 4)",
            "spec.yaml:7:5: error[MS002] ry: lstm expects inputs of rank 2 (timesteps, features), batch axis excluded "
            "(received shape: (5,))",
        ]
    )


def test_errors_never_escape_as_other_exceptions(tmp_path, monkeypatch):
    """Hostile-but-plausible inputs still end as SpecError with a location, not a traceback."""
    for text in [
        "modelspec: 1\ninput: 5\nlayers: 5\n",
        "modelspec: 1\ninput: {shape: [4]}\nlayers:\n  - null\n",
        "modelspec: 1\ninput: {shape: [4]}\nlayers:\n  - {type: null}\n",
        "[",
        "modelspec: 1\n: x\n",
        "modelspec: 1\ninput: {shape: [4]}\nlayers:\n  - {type: bidirectional, layer: lstm}\n",
        "modelspec: 1\ninput: {shape: [4]}\nlayers:\n  - {type: dense, units: 2}\noutputs: [input]\n",
    ]:
        assert errors_of(tmp_path, monkeypatch, text).startswith("spec.yaml:")


@pytest.mark.parametrize("metric", ["[]", "{a: 1}", "[acc]"])
def test_a_metric_that_is_not_a_name_is_a_located_error(metric):
    text = (
        "modelspec: 1\ninput: {shape: [4]}\nlayers:\n  - {type: dense, units: 2, activation: softmax}\n"
        f"training: {{optimizer: adam, loss: categorical_crossentropy, metrics: [{metric}]}}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec(text)
    assert caught.value.diagnostics[0].line == 5
