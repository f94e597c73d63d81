"""responses-conformance: a conformance suite for the OpenAI Responses API.

The engine (`responses_conformance.engine`) is sans-IO: feed it bytes or events, it yields
violations. HTTP (`http`), pytest (`plugin`), the CLI (`cli`) and the reports (`report`) are
thin layers around it. `responses_conformance.reference` is the embedded reference server.
"""
from .engine.checker import StreamChecker, check_response_body, check_stream
from .engine.exchange import ExchangeChecker, Expectation
from .engine.registry import CHECKS, Check
from .engine.sse import SseDecoder, SseEvent, WireNote
from .engine.violations import Severity, Violation

__all__ = [
    "CHECKS", "Check", "ExchangeChecker", "Expectation", "Severity", "SseDecoder", "SseEvent", "StreamChecker",
    "Violation", "WireNote", "check_response_body", "check_stream",
]
