"""What an absent field of a Response means: the one table the comparisons share.

Two representations of one response (the streamed final object and the non-streamed body, or
the streamed object and the retrieved one) are compared field by field. A field the spec
defaults means its default when it is absent, so `background` missing on one side and `false`
on the other is the same response. A field the spec makes optional and one side omits
(`completed_at` on the streamed object) is not drift either: a client reads both as "not
said". Drift is a field present in both with different values.

A Response field the schema requires and one side lacks is the schema checks' finding
(schema.event, schema.response), not reported a second time by a comparison.
"""
from __future__ import annotations

from typing import Any

# SPEC CreateResponse / Response defaults of the request parameters a Response echoes.
RESPONSE_DEFAULTS: dict[str, Any] = {
    "background": False,
    "parallel_tool_calls": True,
    "temperature": 1,
    "top_p": 1,
    "tool_choice": "auto",
    "tools": [],
    "metadata": {},
    "truncation": "disabled",
    "store": True,
    "top_logprobs": 0,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "text": {"format": {"type": "text"}},
}

# The defaulted fields the Response schema requires (objects/response.json; a test keeps the two
# in step). One of them missing is the schema checks' finding, so it is not read as its default
# in a comparison: that would report the same missing field a second time.
REQUIRED_DEFAULTED = frozenset({"parallel_tool_calls", "temperature", "top_p", "tool_choice", "tools", "metadata"})

ABSENT = object()


def effective(response: dict, key: str) -> Any:
    """The value a client reads for `key`: the field's value, its default when absent or null (for a
    field the schema does not require), else ABSENT."""
    value = response.get(key)
    if value is None:
        return ABSENT if key in REQUIRED_DEFAULTED else RESPONSE_DEFAULTS.get(key, ABSENT)
    return value
