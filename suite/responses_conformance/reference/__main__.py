"""`python -m responses_conformance.reference [--host H] [--port P] [--api-key K] [--fault F]...
[--flavour openai|openresponses]`"""

from __future__ import annotations

import argparse
import sys

from .app import DEFAULT_API_KEY, DEFAULT_FLAVOUR, FAULT_DESCRIPTIONS, FLAVOURS
from .server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m responses_conformance.reference",
        description="Run the embedded reference Responses API server in the foreground.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY,
                        help="accepted bearer token (default: %(default)s)")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a key")
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULT_DESCRIPTIONS),
                        help="switch on a deliberate breakage (repeatable)")
    parser.add_argument("--store-limit", type=int, default=1000)
    parser.add_argument("--flavour", default=DEFAULT_FLAVOUR, choices=FLAVOURS,
                        help="wire dialect: what OpenAI sends, or Open Responses "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    api_key = None if args.no_auth else args.api_key
    print(f"reference server on http://{args.host}:{args.port}/v1 "
          f"(api key: {api_key or 'none'}; flavour: {args.flavour}; "
          f"faults: {', '.join(args.fault) or 'none'})",
          file=sys.stderr)
    serve(host=args.host, port=args.port, api_key=api_key, faults=frozenset(args.fault),
          store_limit=args.store_limit, flavour=args.flavour)
    return 0


if __name__ == "__main__":
    sys.exit(main())
