"""Fuzz mode's own rules: what the exchange of one generated request must come to.

Fuzz mode (the suite's fuzz.py) sends requests generated from the request schema, half of them
valid and half with exactly one field broken, and judges each exchange through the engine: the
ExchangeChecker (an invalid body is expected to be refused with OpenAI's error envelope, a
valid one to be served with a conformant stream or Response), and the scenario assertions any
valid request can be held to (registry: `any_request`). What only the outcome of a generated
request can show is judged here, sans-IO: the outcome in, findings out, stamped by the caller
as every other finding is (the profile and the check filter apply):

  fuzz.answered         the exchange ended without an answer: a time limit or a broken
                        connection (a refusal needs no model: a broken body is refused at once)
  fuzz.invalid_refused  a body that the published schema and observed OpenAI both refuse was
                        served (where the two differ, spec-notes section 7, a 200 is tolerated)
  fuzz.valid_completes  a valid request was served with a response that ended `failed`

These checks apply to kind `fuzz`: no scenario judges them, only fuzz mode. Each is
`request_caused`: the request that produced a finding explains it, so fuzz mode groups their
findings by the request's slot (which field broke how) and shrinks each to its smallest request.
"""
from __future__ import annotations

from typing import Any, Iterator

from .registry import FUZZ, MUST, SHOULD, check
from .violations import Finding

# How an exchange ends when a time limit ran out (the HTTP layer's words): the total deadline,
# or no byte for the idle time.
TIME_LIMITS = frozenset({"deadline", "idle"})


@check("fuzz.answered", MUST, FUZZ,
       "A broken request is answered within the time limits (a refusal needs no model), and no request, valid or "
       "not, breaks the connection. A valid request that runs past the limits could not be tested: a slow model is "
       "no hang.",
       "OBS: OpenAI refuses a broken body with a 4xx at once, before any model runs; a request left without an "
       "answer holds its client until the client's own timeout, and a connection broken mid-answer loses it.",
       request_caused=True)
def answered(end: str, detail: str | None, status: int | None, *, invalid: bool) -> Iterator[Finding]:
    """An exchange that ended before its answer did: `end` says how (`deadline`, `idle`, as in
    TIME_LIMITS, or `protocol_error`: the connection broke), `detail` in the HTTP layer's words.
    Nothing for a valid request past a time limit: it could not be tested (the caller says so)."""
    if end in TIME_LIMITS and not invalid:
        return
    yield Finding("fuzz.answered", f"{detail or end} (HTTP {status})")


@check("fuzz.invalid_refused", SHOULD, FUZZ,
       "A body that the published schema and observed OpenAI behaviour both refuse is refused with a 4xx, not served.",
       "SPEC: the published request schema refuses the body; OBS: OpenAI answers it with a 400. Where the two differ "
       "(spec-notes section 7; here an unknown parameter, a missing `model`, `max_output_tokens` below 16) a 200 is "
       "counted as tolerated, never a finding.",
       request_caused=True)
def invalid_refused(status: int, *, both_refuse: bool, broken: str) -> Iterator[Finding]:
    """An invalid body answered with `status`; `broken` says what was broken (for the message),
    `both_refuse` whether the published schema and OpenAI both refuse it."""
    if 200 <= status < 300 and both_refuse:
        yield Finding("fuzz.invalid_refused",
                      f"HTTP {status} to a body both the published schema and OpenAI refuse ({broken})")


@check("fuzz.valid_completes", MUST, FUZZ,
       "A valid request is served with a response that ends completed or incomplete, or refused cleanly before any "
       "byte; never answered with a failed response.",
       "OBS: OpenAI serves a valid request with a response that ends completed or incomplete, never failed; a server "
       "that cannot serve a request refuses it with a 4xx before any byte, not with a 200 that fails after (G-01).",
       request_caused=True)
def valid_completes(status: int, final: Any) -> Iterator[Finding]:
    """A valid request answered with `status` and `final`, the final Response (of the stream's
    terminal event or the body)."""
    if status != 200 or not isinstance(final, dict) or final.get("status") != "failed":
        return
    error = final.get("error") if isinstance(final.get("error"), dict) else {}
    yield Finding("fuzz.valid_completes", f"HTTP 200 and a response that ended failed ({error.get('code')}: "
                                          f"{str(error.get('message'))[:120]})")
