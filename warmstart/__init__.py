"""warmstart: meta-learned warm-start hyperparameter suggestions.

Installed, the whole project is this one package; importing it is cheap and
loads nothing heavy until a name below is used:

- :func:`suggest` (:class:`LocalSuggestion`): configs for a table in one call, in
  process, each with the learner's own arguments and a ready estimator.
- :class:`WarmstartClient` (``warmstart.client``): the gRPC client.
- ``warmstart.seeding``: hand suggestions to Optuna, hyperopt, SMAC, Ray Tune, or
  let warmstart drive an Optuna study (``WarmstartSampler``).
- :class:`Recommender`, :func:`load_bundle`: suggestions in process, from a model
  bundle, without a server.

The parts the design card names are subpackages: ``warmstart.metamodel`` (the
core), ``warmstart.service`` (server, client, CLI), ``warmstart.benchmarks``
(suites, learners, runner, performance scripts) and ``warmstart.protos`` (the
gRPC contract).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from warmstart.metamodel.lazy import lazy_names

if TYPE_CHECKING:
    from warmstart.metamodel.bundle import load_bundle
    from warmstart.metamodel.recommend import Recommender
    from warmstart.service.client import WarmstartClient
    from warmstart.service.local import LocalSuggestion, suggest

try:
    __version__ = version("warmstart")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# Public name -> the module that defines it, imported on first use.
_LAZY = {
    "WarmstartClient": "warmstart.service.client",
    "Recommender": "warmstart.metamodel.recommend",
    "load_bundle": "warmstart.metamodel.bundle",
    "suggest": "warmstart.service.local",
    "LocalSuggestion": "warmstart.service.local",
}

__all__ = [
    "LocalSuggestion",
    "Recommender",
    "WarmstartClient",
    "__version__",
    "load_bundle",
    "suggest",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
