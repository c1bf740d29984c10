"""Building and training the MLP network from a config of the ``mlp`` space.

The caller seeds torch (see ``_mlp``); this module only draws from torch's
RNG and from a ``torch.Generator`` it seeds for shuffling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from warmstart.benchmarks.learners._base import as_bool, as_float, as_int, as_str, optional_float
from warmstart.metamodel.types import ConfigValue

__all__ = ["TrainResult", "build_network", "train_network"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "selu": nn.SELU,
}
# The gain each activation asks of an initialiser; gelu and elu are treated as
# relu, selu as linear (LeCun initialisation, what selu's self-normalisation needs).
_Gain = Literal["linear", "tanh", "relu", "leaky_relu"]
_GAIN_NAME: dict[str, _Gain] = {
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "gelu": "relu",
    "tanh": "tanh",
    "elu": "relu",
    "selu": "linear",
}
_LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class TrainResult:
    """How training went: epochs and steps run, last finite loss, divergence."""

    epochs_run: int
    steps_run: int
    final_loss: float
    diverged: bool


def _initialise(layer: nn.Linear, init: str, gain_name: _Gain) -> None:
    slope = _LEAKY_SLOPE if gain_name == "leaky_relu" else 0.0
    weight = layer.weight
    if init == "kaiming_uniform":
        nn.init.kaiming_uniform_(weight, a=slope, nonlinearity=gain_name)
    elif init == "kaiming_normal":
        nn.init.kaiming_normal_(weight, a=slope, nonlinearity=gain_name)
    else:
        gain = nn.init.calculate_gain(gain_name, slope if gain_name == "leaky_relu" else None)
        if init == "xavier_uniform":
            nn.init.xavier_uniform_(weight, gain=gain)
        elif init == "xavier_normal":
            nn.init.xavier_normal_(weight, gain=gain)
        else:
            nn.init.orthogonal_(weight, gain=gain)
    nn.init.zeros_(layer.bias)


def build_network(config: Mapping[str, ConfigValue], n_inputs: int, n_outputs: int) -> nn.Module:
    """Build and initialise the network: hidden blocks, then a linear output layer.

    Args:
        config: A validated ``mlp`` config.
        n_inputs: Width of the input.
        n_outputs: Classes (classification) or 1 (regression).
    """
    activation = as_str(config, "activation")
    init = as_str(config, "init")
    dropout = as_float(config, "dropout")
    batch_norm = as_bool(config, "batch_norm")
    layers: list[nn.Module] = []
    width = n_inputs
    for i in range(1, as_int(config, "n_layers") + 1):
        units = as_int(config, f"units_{i}")
        linear = nn.Linear(width, units)
        _initialise(linear, init, _GAIN_NAME[activation])
        layers.append(linear)
        if batch_norm:
            layers.append(nn.BatchNorm1d(units))
        kind = _ACTIVATIONS[activation]
        layers.append(kind(_LEAKY_SLOPE) if activation == "leaky_relu" else kind())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = units
    output = nn.Linear(width, n_outputs)
    _initialise(output, init, "linear")
    layers.append(output)
    return nn.Sequential(*layers)


def _optimizer(config: Mapping[str, ConfigValue], net: nn.Module) -> torch.optim.Optimizer:
    name = as_str(config, "optimizer")
    lr = as_float(config, "learning_rate")
    decay = optional_float(config, "use_weight_decay", "weight_decay")
    params = list(net.parameters())
    if name == "sgd":
        momentum = as_float(config, "momentum")
        # torch refuses Nesterov without momentum; momentum 0 is plain SGD.
        nesterov = as_bool(config, "nesterov") and momentum > 0
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=decay
        )
    if name == "rmsprop":
        return torch.optim.RMSprop(
            params,
            lr=lr,
            alpha=as_float(config, "rho"),
            momentum=as_float(config, "momentum"),
            weight_decay=decay,
        )
    betas = (as_float(config, "beta1"), as_float(config, "beta2"))
    eps = as_float(config, "eps")
    kind = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return kind(params, lr=lr, betas=betas, eps=eps, weight_decay=decay)


def _schedule_factor(config: Mapping[str, ConfigValue], epoch: int, epochs: int) -> float:
    schedule = as_str(config, "lr_schedule")
    if schedule == "step":
        return float(as_float(config, "step_gamma") ** (epoch // as_int(config, "step_size")))
    if schedule == "exponential":
        return float(as_float(config, "exp_gamma") ** epoch)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    return 1.0


def _batches(order: torch.Tensor, size: int) -> list[torch.Tensor]:
    batches = list(torch.split(order, size))
    # A last batch of one row breaks batch norm and is a noisy step anyway.
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = torch.cat([batches[-2], batches.pop()])
    return batches


def train_network(
    net: nn.Module,
    config: Mapping[str, ConfigValue],
    features: torch.Tensor,
    target: torch.Tensor,
    classification: bool,
    seed: int,
) -> TrainResult:
    """Train ``net`` in place with the config's optimizer, schedule and penalties.

    Args:
        net: The network from :func:`build_network`.
        config: A validated ``mlp`` config.
        features: Float32 inputs, one row per sample (at least 2 rows).
        target: Class codes (int64) or the standardised target (float32, n x 1).
        classification: Cross-entropy (with label smoothing) or squared error.
        seed: Seed of the shuffling generator.

    Returns:
        How training went; ``diverged`` when the loss or a weight became non-finite.
    """
    loss_fn: nn.Module
    if classification:
        loss_fn = nn.CrossEntropyLoss(label_smoothing=as_float(config, "label_smoothing"))
    else:
        loss_fn = nn.MSELoss()
    optimizer = _optimizer(config, net)
    base_lr = as_float(config, "learning_rate")
    l1 = optional_float(config, "use_l1", "l1_penalty")
    clip = optional_float(config, "use_grad_clip", "grad_clip_norm")
    weights = [m.weight for m in net.modules() if isinstance(m, nn.Linear)]
    epochs = as_int(config, "epochs")
    batch_size = min(as_int(config, "batch_size"), len(features))
    per_epoch = len(_batches(torch.arange(len(features)), batch_size))
    warmup = round(as_float(config, "warmup_fraction") * epochs * per_epoch)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    step, loss_value = 0, math.nan
    for epoch in range(epochs):
        factor = _schedule_factor(config, epoch, epochs)
        order = torch.randperm(len(features), generator=generator)
        for rows in _batches(order, batch_size):
            ramp = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
            for group in optimizer.param_groups:
                group["lr"] = base_lr * factor * ramp
            loss = loss_fn(net(features[rows]), target[rows])
            if l1 > 0:
                loss = loss + l1 * sum(w.abs().sum() for w in weights)
            if not torch.isfinite(loss):
                return TrainResult(epoch, step, loss_value, diverged=True)
            optimizer.zero_grad()
            loss.backward()
            if clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), clip)
            optimizer.step()
            step += 1
            loss_value = float(loss.detach())
    state = [*net.parameters(), *net.buffers()]
    finite = all(bool(torch.isfinite(t).all()) for t in state)
    return TrainResult(epochs, step, loss_value, diverged=not finite)
