"""sequence: sequence_number present, increasing, from 0 (or starting_after + 1), no gaps."""
from __future__ import annotations

from ..state import Event, StreamState
from ..violations import Finding

PATH = "$.sequence_number"


def on_event(state: StreamState, event: Event) -> list[Finding]:
    if not event.is_object:
        return []
    seq = event.seq
    if seq is None:
        raw = event.payload.get("sequence_number")
        return [Finding("sequence.present",
                        "missing sequence_number" if raw is None else f"sequence_number {raw!r} is not an integer",
                        PATH)]
    if state.json_events == 0:
        first = 0 if state.starting_after is None else state.starting_after + 1
        if seq != first:
            return [Finding("sequence.starts_at_zero", f"first sequence_number is {seq}, expected {first}", PATH)]
        return []
    if state.last_seq is None:
        return []  # earlier events had none; reported there
    if seq <= state.last_seq:
        return [Finding("sequence.increasing", f"sequence_number {seq} after {state.last_seq}", PATH)]
    if seq != state.last_seq + 1:
        return [Finding("sequence.contiguous", f"expected {state.last_seq + 1}, got {seq}", PATH)]
    return []
