"""`python -m responses_conformance.reference [--host H] [--port P] [--api-key K] [--fault F]...
[--disable FEATURE]... [--flavour openai|openresponses|openai-strict] [--delay S]
[--background-step S]`

The server binds its address first and then announces its URL, with the real port (`--port 0`
picks a free one). A wrong call (an unknown option, a port outside 0-65535, an address in use
or not this machine's) is one line on stderr and exit status 2, never a traceback; Ctrl-C
stops the server with status 0.
"""

from __future__ import annotations

import argparse
import socket
import sys

from .context import DEFAULT_API_KEY, DEFAULT_BACKGROUND_STEP, DEFAULT_FLAVOUR, ENDPOINT_FEATURES, FLAVOURS
from .faults import (
    COMPACT_FAULT_DESCRIPTIONS,
    FAULT_DESCRIPTIONS,
    FUZZ_FAULT_DESCRIPTIONS,
    WS_FAULT_DESCRIPTIONS,
)
from .server import bind, serve, url_of
from .validation import FEATURES


class _Parser(argparse.ArgumentParser):
    """A wrong call is one line on stderr and exit status 2 (`--help` shows the usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def _port(text: str) -> int:
    """A TCP port for argparse: 0..65535 (0: a free one), else a one-line usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0-65535")
    return port


def main(argv: list[str] | None = None, prog: str = "python -m responses_conformance.reference") -> int:
    parser = _Parser(
        prog=prog,
        description="Run the embedded reference Responses API server in the foreground.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=8765,
                        help="TCP port, 0 for a free one (default: %(default)s)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY,
                        help="accepted bearer token (default: %(default)s)")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a key")
    faults = sorted([*FAULT_DESCRIPTIONS, *WS_FAULT_DESCRIPTIONS, *COMPACT_FAULT_DESCRIPTIONS,
                     *FUZZ_FAULT_DESCRIPTIONS])
    parser.add_argument("--fault", action="append", default=[], choices=faults,
                        help="switch on a deliberate breakage (repeatable)")
    parser.add_argument("--disable", action="append", default=[], choices=sorted([*FEATURES, *ENDPOINT_FEATURES]),
                        metavar="FEATURE",
                        help="switch a feature off; requests using it get a 4xx (repeatable; "
                        f"one of: {', '.join(sorted([*FEATURES, *ENDPOINT_FEATURES]))})")
    parser.add_argument("--store-limit", type=int, default=1000)
    parser.add_argument("--flavour", default=DEFAULT_FLAVOUR, choices=FLAVOURS,
                        help="wire dialect: what OpenAI sends, Open Responses, or the published "
                        "OpenAPI description as written (default: %(default)s)")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long before answering every request (default: 0)")
    parser.add_argument("--event-delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long between stream events (default: 0)")
    parser.add_argument("--background-step", type=float, default=DEFAULT_BACKGROUND_STEP,
                        metavar="SECONDS",
                        help="how long a background response stays queued, then in progress "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    for name in ("delay", "event_delay", "background_step"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    api_key = None if args.no_auth else args.api_key
    # A key given on the command line is not echoed back; the documented default is.
    shown = "none" if api_key is None else api_key if api_key == DEFAULT_API_KEY else "the one given (not shown)"
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, socket.gaierror):
            reason = f"unknown host ({reason})"
        print(f"{parser.prog}: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    print(f"reference server on {url_of(args.host, port)}/v1 "
          f"(api key: {shown}; flavour: {args.flavour}; "
          f"faults: {', '.join(args.fault) or 'none'}; "
          f"disabled: {', '.join(args.disable) or 'none'})",
          file=sys.stderr, flush=True)
    try:
        serve(api_key=api_key, faults=frozenset(args.fault),
              store_limit=args.store_limit, flavour=args.flavour, disabled=frozenset(args.disable),
              background_step=args.background_step, request_delay=args.delay,
              event_delay=args.event_delay, sock=sock)
    except KeyboardInterrupt:  # pragma: no cover - uvicorn handles SIGINT itself
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
