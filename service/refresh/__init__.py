"""Refresh a space's model: evaluate what is worth evaluating, retrain, gate, publish.

Made to run unattended (cron, a Kubernetes CronJob). One refresh of a space
(:func:`refresh_space`):

1. takes the store lock ``refresh:SPACE`` (a row of ``store_locks`` with a
   lease), so two refreshes never both publish; a lock whose holder is a
   process of this host that is gone (a killed refresh) is taken over;
2. registers the suite's tasks, then chooses at most ``budget`` evaluations
   (:mod:`warmstart.metamodel.refresh`): new tasks first, then where the serving model
   is least certain or would change its suggestions most;
3. runs them with the benchmark runner (local workers or Dask), stored as
   ``source=benchmark``;
4. retrains on every record of the space, client-reported ones included,
   unless the records are exactly those the serving model was trained on
   (nothing new to learn);
5. compares, on the same held-out tasks, the training procedure on today's
   records against the records the serving model was trained on (its stored
   record-id cut-off, else the records created before it);
6. publishes (registers and serves the new version in one transaction,
   earlier versions and files kept) only if it is not worse, else refuses.

Nothing is registered before step 6, so a refresh stopped half-way leaves the
serving model as it was (and the evaluations it finished, which are ordinary
records). Every outcome is recorded as a ``refresh`` model event.
"""

from __future__ import annotations

from warmstart.service.refresh._lock import holder_id, holder_is_dead
from warmstart.service.refresh._observer import RefreshObserver
from warmstart.service.refresh._options import RefreshOptions
from warmstart.service.refresh._result import (
    RefreshOutcome,
    RefreshPlan,
    RefreshResult,
    ServedTrainingData,
)
from warmstart.service.refresh._workflow import refresh_space

__all__ = [
    "RefreshObserver",
    "RefreshOptions",
    "RefreshOutcome",
    "RefreshPlan",
    "RefreshResult",
    "ServedTrainingData",
    "holder_id",
    "holder_is_dead",
    "refresh_space",
]
