"""The sans-IO engine: SSE decoding, the check registry, the stream and exchange checkers.

Nothing in this package does I/O or imports httpx or pytest; a live stream, a captured file
and a test's hand-made events all go through the same code.
"""
