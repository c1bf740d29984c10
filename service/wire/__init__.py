"""What client and server share: the API's requests and answers, their protobuf form, limits.

Modules: :mod:`~warmstart.service.wire.api` (requests and answers as frozen dataclasses),
:mod:`~warmstart.service.wire.convert` (to and from the ``warmstart.v1`` messages),
:mod:`~warmstart.service.wire.tasks` (the task RPCs' requests and answers, both forms),
:mod:`~warmstart.service.wire.limits` (the most a request may carry) and ``_fragments``
(SuggestConfigs responses as joined serialized fragments, the server's fast path).
Nothing here loads a model, a store or the server: the client imports it alone.
"""
