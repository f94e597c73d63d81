"""`python -m responses_conformance.reference [--host H] [--port P] [--api-key K] [--fault F]...
[--disable FEATURE]... [--flavour openai|openresponses|openai-strict] [--delay S]
[--background-step S]`"""

from __future__ import annotations

import argparse
import sys

from .app import (
    DEFAULT_API_KEY,
    DEFAULT_BACKGROUND_STEP,
    DEFAULT_FLAVOUR,
    ENDPOINT_FEATURES,
    FAULT_DESCRIPTIONS,
    WS_FAULT_DESCRIPTIONS,
    FLAVOURS,
)
from .server import serve
from .validation import FEATURES


def main(argv: list[str] | None = None, prog: str = "python -m responses_conformance.reference") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the embedded reference Responses API server in the foreground.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY,
                        help="accepted bearer token (default: %(default)s)")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a key")
    parser.add_argument("--fault", action="append", default=[], choices=sorted([*FAULT_DESCRIPTIONS, *WS_FAULT_DESCRIPTIONS]),
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
    print(f"reference server on http://{args.host}:{args.port}/v1 "
          f"(api key: {shown}; flavour: {args.flavour}; "
          f"faults: {', '.join(args.fault) or 'none'}; "
          f"disabled: {', '.join(args.disable) or 'none'})",
          file=sys.stderr)
    serve(host=args.host, port=args.port, api_key=api_key, faults=frozenset(args.fault),
          store_limit=args.store_limit, flavour=args.flavour, disabled=frozenset(args.disable),
          background_step=args.background_step, request_delay=args.delay,
          event_delay=args.event_delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
