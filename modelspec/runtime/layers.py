"""modelspec's own Keras layers, for spec layer types that Keras has no built-in class for.

Importing this module imports Keras and registers the classes under the package name ``modelspec``
(``keras.saving.register_keras_serializable``), so that ``keras.saving.load_model`` reads a ``.keras`` file that
holds them: ``import modelspec.runtime.layers`` first. Building a model with modelspec imports it too.
"""

from __future__ import annotations

from modelspec.runtime.tensorflow_env import import_keras

keras = import_keras()


@keras.saving.register_keras_serializable(package="modelspec")
class LayerScale(keras.layers.Layer):
    """Multiply each channel by its own learned factor, starting at ``init_value`` (spec `type: layer_scale`).

    The "layer scale" of CaiT and ConvNeXt blocks: a residual branch multiplied by a small ``init_value`` starts
    almost switched off and learns how much to contribute. keras.applications.convnext has a private class of
    the same purpose (config ``init_values``, ``projection_dim``); this one takes its size from its input.

    Args:
        init_value: starting value of every factor.
        axis: the channel axis; one factor per entry along it.
        gamma_regularizer, gamma_constraint: applied to the factors.
    """

    def __init__(self, init_value=1e-6, axis=-1, gamma_regularizer=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)
        self.axis = int(axis)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        axis = self.axis if self.axis >= 0 else len(input_shape) + self.axis
        if not 0 < axis < len(input_shape) or input_shape[axis] is None:
            raise ValueError(
                f"LayerScale needs a known channel axis other than the batch axis. "
                f"Received: axis={self.axis}, input_shape={input_shape}"
            )
        self._broadcast = [1] * len(input_shape)
        self._broadcast[axis] = input_shape[axis]
        self.gamma = self.add_weight(
            name="gamma",
            shape=(input_shape[axis],),
            initializer=keras.initializers.Constant(self.init_value),
            regularizer=self.gamma_regularizer,
            constraint=self.gamma_constraint,
            trainable=True,
        )

    def call(self, inputs):
        gamma = keras.ops.reshape(keras.ops.cast(self.gamma, inputs.dtype), self._broadcast[1:])
        return inputs * gamma

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "init_value": self.init_value,
                "axis": self.axis,
                "gamma_regularizer": keras.regularizers.serialize(self.gamma_regularizer),
                "gamma_constraint": keras.constraints.serialize(self.gamma_constraint),
            }
        )
        return config
