"""The API's limits: how many items and characters a request may carry, and how large it may be.

Client and server share them: the server refuses a request past one (INVALID_ARGUMENT or
RESOURCE_EXHAUSTED, naming the limit), and a client can check before sending.
:func:`text` checks each string a request carries once, as it is decoded: no NUL
character (PostgreSQL cannot store one, SQLite would) and a length limit, so both
backends see the same strings and a refusal is INVALID_ARGUMENT on either.

The limits are documented in the README's server settings.
"""

from __future__ import annotations

from warmstart.metamodel.errors import InvalidRequestError, shown

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_EXCLUDE",
    "MAX_FEATURES",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_OBSERVATIONS",
    "MAX_PAGE_TOKEN_CHARS",
    "MAX_PATH_CHARS",
    "MAX_SMALL_REQUEST_BYTES",
    "MAX_SUGGEST_BYTES",
    "MAX_TASK_NAME_CHARS",
    "MAX_VALUE_CHARS",
    "UPLOAD_BYTES_HEADER",
    "text",
]

UPLOAD_BYTES_HEADER = "warmstart-upload-bytes"
"""The DescribeTask request header that declares the upload's size in bytes: the server
reserves that much of its upload budget, not the largest dataset it takes."""

MAX_EXCLUDE = 1000
"""Most configs one SuggestConfigs request may exclude (``exclude``)."""
MAX_FEATURES = 1000
"""Most meta-features one SuggestConfigs request may carry."""
MAX_SUGGEST_BYTES = 1024 * 1024
"""Largest SuggestConfigs request, in bytes (1 MiB: room for :data:`MAX_EXCLUDE` configs)."""
MAX_NAME_CHARS = 256
"""Longest name: space, task id, feature version, meta-feature, parameter, metric, column."""
MAX_ID_CHARS = 128
"""Longest client-supplied result id (the store's ``external_id`` column)."""
MAX_VALUE_CHARS = 1024
"""Longest string parameter value."""
MAX_ERROR_CHARS = 65536
"""Longest ``error`` text of a reported result."""
MAX_PATH_CHARS = 4096
"""Longest bundle path of a ReloadModel request."""
MAX_TASK_NAME_CHARS = 255
"""Longest name of a registered task (RegisterTask, DescribeTask's ``name``)."""
MAX_PAGE_TOKEN_CHARS = 2048
"""Longest ListTasks page token (those given out hold a task's name and id)."""
MAX_OBSERVATIONS = 1000
"""Most observations one SuggestConfigs request may carry (``observations``)."""
MAX_SMALL_REQUEST_BYTES = 64 * 1024
"""Largest request of the RPCs that carry a name at most (spaces, model info, reload, tasks)."""


def text(value: str, field: str, limit: int = MAX_NAME_CHARS) -> str:
    """``value``, checked: at most ``limit`` characters and no NUL character.

    Args:
        value: A string from a request (protobuf has checked that it is UTF-8).
        field: Where it came from, for the message (``"results[2].id"``).
        limit: The most characters allowed.

    Raises:
        InvalidRequestError: Too long, or it holds a NUL.
    """
    if len(value) > limit:
        raise InvalidRequestError(
            f"{field} is {len(value)} characters long; at most {limit} are allowed"
        )
    if "\x00" in value:
        raise InvalidRequestError(
            f"{field} contains a NUL character (\\x00), which no string may hold: {shown(value)}"
        )
    return value
