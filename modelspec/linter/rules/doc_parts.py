"""Shared pieces of rule docs: the references the rules cite, and the spec skeleton of the examples."""

from __future__ import annotations

from typing import Optional

GLOROT_2010 = (
    "Glorot & Bengio (2010), Understanding the difficulty of training deep feedforward neural networks, "
    "AISTATS. https://proceedings.mlr.press/v9/glorot10a.html"
)
HE_2015 = (
    "He, Zhang, Ren & Sun (2015), Delving Deep into Rectifiers: Surpassing Human-Level Performance on "
    "ImageNet Classification, ICCV. https://arxiv.org/abs/1502.01852"
)
KLAMBAUER_2017 = (
    "Klambauer, Unterthiner, Mayr & Hochreiter (2017), Self-Normalizing Neural Networks, NeurIPS. "
    "https://arxiv.org/abs/1706.02515"
)
SAXE_2014 = (
    "Saxe, McClelland & Ganguli (2014), Exact solutions to the nonlinear dynamics of learning in deep "
    "linear neural networks, ICLR. https://arxiv.org/abs/1312.6120"
)
IOFFE_2015 = (
    "Ioffe & Szegedy (2015), Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
    "Covariate Shift, ICML. https://arxiv.org/abs/1502.03167"
)
GOYAL_2017 = (
    "Goyal et al. (2017), Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour (zero-initialised "
    "last layer of each residual block). https://arxiv.org/abs/1706.02677"
)
LE_2015 = (
    "Le, Jaitly & Hinton (2015), A Simple Way to Initialize Recurrent Networks of Rectified Linear Units. "
    "https://arxiv.org/abs/1504.00941"
)
KINGMA_2015 = "Kingma & Ba (2015), Adam: A Method for Stochastic Optimization, ICLR. https://arxiv.org/abs/1412.6980"
KERAS_INIT = "Keras initializers: https://keras.io/api/layers/initializers/"
KERAS_LOSSES = "Keras losses: https://keras.io/api/losses/"
SIGNAL_DOC = "modelspec's signal model: docs/signal.md"


def spec(layers: str, extra: str = "", seed: Optional[int] = 1, input_shape: str = "[32]") -> str:
    """Return a whole example spec around ``layers`` (YAML list items, indented two spaces); no `seed:` when
    ``seed`` is None."""
    seeded = "" if seed is None else f"seed: {seed}\n"
    head = f"modelspec: 1\nname: example\n{seeded}input: {{shape: {input_shape}}}\n"
    return head + "layers:\n" + layers.rstrip("\n") + "\n" + extra
