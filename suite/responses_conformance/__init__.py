"""responses-conformance: a conformance suite for the OpenAI Responses API.

The engine (`responses_conformance.engine`) is sans-IO: feed it bytes or events, it yields
violations. HTTP (`http`), pytest (`plugin`), the CLI (`cli`) and the reports (`report`) are
thin layers around it. `responses_conformance.reference` is the embedded reference server.
"""
from importlib import metadata as _metadata

from .engine.checker import StreamChecker, check_response_body, check_stream
from .engine.exchange import ExchangeChecker, Expectation
from .engine.registry import CHECKS, Check
from .engine.sse import SseDecoder, SseEvent, WireNote
from .engine.violations import Severity, Violation

def suite_version() -> str:
    """The installed version of the suite ("dev" from a bare checkout)."""
    try:
        return _metadata.version("responses-conformance")
    except _metadata.PackageNotFoundError:
        return "dev"


__all__ = [
    "CHECKS", "Check", "ExchangeChecker", "Expectation", "Severity", "SseDecoder", "SseEvent", "StreamChecker",
    "Violation", "WireNote", "check_response_body", "check_stream", "suite_version",
]
