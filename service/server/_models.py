"""The models being served: one checked bundle and its recommender per space, swapped atomically.

Requests read :attr:`ModelRegistry.models` once and use what they got, so a
call that started on the old model finishes on it while new calls get the new
one: a swap is one reference assignment and never fails a request. Bundles come
from a *locator*, a function that lists the bundle files to serve now (a
``--model`` path, the store's serving versions, or the data directory's
``models/``); the newest bundle per space wins.

A bundle that does not load never replaces a served model, and a reload never
steps back to an older bundle because the newer one is broken:

- **ReloadModel** (:meth:`ModelRegistry.reload`, :meth:`ModelRegistry.load_path`)
  is all or nothing: if any bundle it finds does not load, it changes nothing and
  fails naming each such file and why.
- **The file watcher and start-up** (``strict=False``) serve what loads and log
  each file that does not. While any file fails, a space keeps its served model
  rather than take an older one (the broken file may be its newer bundle). At
  start-up nothing is served yet, so each space gets the newest bundle of it that
  loads, and the log names the broken ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ConfigSpace import ConfigurationSpace

from warmstart.metamodel.bundle import ModelBundle, load_bundle
from warmstart.metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    NotFoundError,
    WarmstartError,
    shown,
)
from warmstart.metamodel.recommend import Recommender, RecommenderSettings
from warmstart.metamodel.spaces import load_configspace
from warmstart.metamodel.store import RecordStore

__all__ = [
    "BUNDLE_SUFFIX",
    "BundleLocator",
    "ModelRegistry",
    "ServedModel",
    "bundle_files",
    "store_locator",
]

log = logging.getLogger("warmstart.server.models")

BUNDLE_SUFFIX = ".wsb"
NO_MODEL_HINT = (
    "train one with `warmstart train --space NAME`, then start the server with --model PATH "
    "or call ReloadModel"
)

BundleLocator = Callable[[], list[Path]]
"""Lists the bundle files that should be served now."""

_FileKey = tuple[str, int, int]
_SHOWN_FAILURES = 3


@dataclass(frozen=True)
class ServedModel:
    """A loaded bundle, ready to answer requests."""

    bundle: ModelBundle
    recommender: Recommender
    path: Path | None

    @property
    def version(self) -> str:
        """The bundle's version."""
        return self.bundle.version

    @property
    def configspace(self) -> ConfigurationSpace:
        """The ConfigSpace object of the bundle's space (shared: read-only)."""
        return load_configspace(self.bundle.space)

    @classmethod
    def from_bundle(
        cls,
        bundle: ModelBundle,
        path: Path | None = None,
        settings: RecommenderSettings | None = None,
    ) -> ServedModel:
        """Build the recommender of a bundle, its world table filled before it serves.

        The recommender fills its table when it is made (about 0.7 s for the shipped
        LightGBM bundle on one core), here, before the swap, so the first requests do
        not wait for it.
        """
        return cls(bundle, bundle.recommender(settings), path)


def bundle_files(paths: Iterable[Path]) -> list[Path]:
    """Expand bundle files and folders of them (non-hidden ``*.wsb``) into files.

    A path that does not exist is left out (the watcher notices when it appears).
    """
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                p
                for p in sorted(path.glob(f"*{BUNDLE_SUFFIX}"))
                if not p.name.startswith(".") and p.is_file()
            )
        elif path.is_file():
            out.append(path)
    return out


def store_locator(store: RecordStore, fallback: Path) -> BundleLocator:
    """Locate the store's serving model versions, else the bundles in ``fallback``.

    Args:
        store: The records store (its ``model_versions`` table).
        fallback: A folder of bundles used when no version is marked serving.
    """

    def locate() -> list[Path]:
        serving = [Path(v.path) for v in store.list_model_versions() if v.serving]
        return bundle_files(serving) if serving else bundle_files([fallback])

    return locate


def _file_key(path: Path) -> _FileKey | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size)


class ModelRegistry:
    """Holds the served models, one per space name, and swaps in new bundles.

    Args:
        locator: Lists the bundle files to serve; ``None`` serves only what is
            loaded explicitly (:meth:`load_path`, :meth:`put`).
        feature_version: If set, bundles of another meta-feature version are refused.
        settings: How the recommenders of the bundles it loads choose candidates.
    """

    def __init__(
        self,
        locator: BundleLocator | None = None,
        *,
        feature_version: str | None = None,
        settings: RecommenderSettings | None = None,
    ) -> None:
        self._locator = locator
        self._feature_version = feature_version
        self._settings = settings
        self._models: Mapping[str, ServedModel] = MappingProxyType({})
        self._lock = threading.Lock()  # one reload at a time; readers never take it
        self._cache: dict[str, tuple[_FileKey, ServedModel]] = {}
        self._listeners: list[Callable[[Mapping[str, ServedModel]], None]] = []
        self._located: dict[str, str] = {}  # space → version the locator last chose

    @property
    def models(self) -> Mapping[str, ServedModel]:
        """The served models by space name: a snapshot, never changed in place."""
        return self._models

    def subscribe(self, listener: Callable[[Mapping[str, ServedModel]], None]) -> None:
        """Call ``listener`` with the new models after every swap (from the swapping thread)."""
        self._listeners.append(listener)

    def require(self) -> Mapping[str, ServedModel]:
        """Return the served models.

        Raises:
            FailedPreconditionError: No model is loaded at all.
        """
        models = self._models
        if not models:
            raise FailedPreconditionError(f"no model is loaded; {NO_MODEL_HINT}")
        return models

    def get(self, space: str) -> ServedModel:
        """Return the model serving a space given by name or id.

        Raises:
            FailedPreconditionError: No model is loaded at all.
            NotFoundError: No loaded model serves this space.
        """
        models = self.require()
        if space in models:
            return models[space]
        for model in models.values():
            if model.bundle.space.space_id == space:
                return model
        raise NotFoundError(
            f"no model serves space {shown(space)}; served spaces: {', '.join(sorted(models))} "
            "(give a space name or id)"
        )

    def versions(self) -> str:
        """The served versions, in space-name order, joined with ``","``."""
        models = self._models
        return ",".join(models[name].version for name in sorted(models))

    def put(self, models: Iterable[ServedModel]) -> None:
        """Serve these models, replacing those of the same spaces (others stay)."""
        with self._lock:
            self._swap({m.bundle.space.name: m for m in models})

    def _swap(self, new: Mapping[str, ServedModel]) -> None:
        if not new:
            return
        merged = {**self._models, **new}
        self._models = MappingProxyType(merged)  # the atomic swap
        for name in sorted(new):
            log.info("serving model %s for space %s", new[name].version, name)
        for listener in self._listeners:
            listener(self._models)

    def _load(self, path: Path) -> ServedModel:
        key = _file_key(path)
        cached = self._cache.get(str(path))
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        bundle = load_bundle(path, feature_version=self._feature_version)
        model = ServedModel.from_bundle(bundle, path, self._settings)
        if key is not None:
            self._cache[str(path)] = (key, model)
        return model

    @staticmethod
    def _newest(models: Sequence[ServedModel]) -> dict[str, ServedModel]:
        newest: dict[str, ServedModel] = {}
        for model in models:
            name = model.bundle.space.name
            old = newest.get(name)
            if old is None or model.bundle.created_at > old.bundle.created_at:
                newest[name] = model
        return newest

    def load_path(self, path: Path) -> None:
        """Load a bundle file, or the newest bundle per space in a folder, and serve it.

        All or nothing: if a bundle at ``path`` does not load, nothing changes.

        Raises:
            InvalidRequestError: Nothing at ``path``.
            FailedPreconditionError: A bundle there does not load (not a bundle,
                truncated, or not matching this code); the message names each file and why.
        """
        files = bundle_files([path])
        if not files:
            raise InvalidRequestError(
                f"no model bundle at {path}: give a {BUNDLE_SUFFIX} file or a folder of them"
            )
        with self._lock:
            loaded, failures = self._load_many(files)
            if failures:
                raise FailedPreconditionError(self._refusal(failures))
            self._swap(self._newest(loaded))

    def _load_many(self, files: Sequence[Path]) -> tuple[list[ServedModel], list[str]]:
        """Load each file; return the models and, for each file that failed, why."""
        loaded: list[ServedModel] = []
        failures: list[str] = []
        for file in files:
            try:
                loaded.append(self._load(file))
            except Exception as exc:  # a broken file must never take the server down
                reason = str(exc) if isinstance(exc, WarmstartError) else repr(exc)
                failures.append(reason if str(file) in reason else f"{file}: {reason}")
        return loaded, failures

    def _refusal(self, failures: Sequence[str]) -> str:
        served = self.versions() or "none"
        listed = "; ".join(failures[:_SHOWN_FAILURES])
        more = len(failures) - _SHOWN_FAILURES
        extra = f" (and {more} more)" if more > 0 else ""
        return (
            f"model reload refused, nothing changed (serving: {served}): "
            f"{len(failures)} bundle(s) do not load: {listed}{extra}"
        )

    def reload(self, *, only_changed: bool = False, strict: bool = True) -> None:
        """Load the newest bundle per space from the locator and serve it.

        Args:
            only_changed: Swap a space's model only if the locator now picks
                another version than it did last time (what the file watcher
                does): a model loaded by path stays until the location has
                something new, and a broken new file changes nothing.
            strict: If any bundle found does not load, change nothing and raise
                (ReloadModel). Off (the watcher, start-up): serve what loads and log
                what does not; while a file fails, no space steps back to a bundle
                older than the one it serves, and a space none of whose bundles
                load keeps its model.

        Raises:
            FailedPreconditionError: There is no locator, it finds no bundle that
                loads, or (``strict``) a bundle it found does not load.
        """
        if self._locator is None:
            raise FailedPreconditionError(
                "the server has no configured model location; give ReloadModel a path"
            )
        files = self._locator()
        with self._lock:
            wanted = {str(f) for f in files}
            self._cache = {k: v for k, v in self._cache.items() if k in wanted}
            loaded, failures = self._load_many(files)
            if failures and strict:
                raise FailedPreconditionError(self._refusal(failures))
            for failure in failures:
                log.warning("refused model bundle %s", failure)
            if not loaded:
                found = f"none of the {len(files)} bundles found loads" if files else "no bundle"
                raise FailedPreconditionError(
                    f"{found} at the configured model location; {NO_MODEL_HINT}"
                )
            newest = self._newest(loaded)
            if failures:
                newest = self._hold_back(newest)
            changed = {
                name: model
                for name, model in newest.items()
                if not only_changed or self._located.get(name) != model.version
            }
            self._located.update({name: m.version for name, m in newest.items()})
            self._swap(changed)

    def _hold_back(self, newest: Mapping[str, ServedModel]) -> dict[str, ServedModel]:
        """Leave out spaces whose pick is older than the model they serve (a file that
        does not load may be their newer bundle): they keep it, and are picked again
        at the next reload."""
        served = self._models
        kept: dict[str, ServedModel] = {}
        for name, model in newest.items():
            current = served.get(name)
            if current is not None and model.bundle.created_at < current.bundle.created_at:
                log.warning(
                    "space %s keeps model %s: a bundle does not load, and the newest that "
                    "does (%s) is older",
                    name,
                    current.version,
                    model.version,
                )
                continue
            kept[name] = model
        return kept

    def signature(self) -> tuple[_FileKey, ...]:
        """What the locator sees now (paths, modification times, sizes): changes mean reload."""
        if self._locator is None:
            return ()
        keys = (_file_key(p) for p in self._locator())
        return tuple(k for k in keys if k is not None)
