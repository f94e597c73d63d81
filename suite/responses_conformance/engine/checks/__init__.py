"""Check logic, one module per category. Each module declares the checks it judges, with their rows
(id, severity, rule, basis, applies); registry.py collects them into the catalogue."""
from . import consistency, error, framing, grammar, ids, schema, sequence, usage

# Stream checks run in this order on every event; each sees the state before the event.
STREAM_MODULES = (framing, sequence, grammar, ids, consistency, usage, error)

__all__ = ["STREAM_MODULES", "consistency", "error", "framing", "grammar", "ids", "schema", "sequence", "usage"]
