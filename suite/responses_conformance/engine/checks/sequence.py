"""sequence: sequence_number present, increasing, from 0 (or starting_after + 1), no gaps."""
from __future__ import annotations

from ..registry import MUST, SHOULD, STREAM, check
from ..state import Event, StreamState
from ..violations import Finding

PATH = "$.sequence_number"


@check("sequence.present", MUST, STREAM,
       "Every event carries an integer `sequence_number`.",
       "SPEC: required on all 58 events; OR MUST; Rust clients fail on a missing one (C-01, C-02, C-03).")
@check("sequence.increasing", MUST, STREAM,
       "Each event's `sequence_number` is greater than the previous event's.",
       "OR: 'monotonically increasing'; resume with starting_after depends on it (C-04).")
@check("sequence.starts_at_zero", SHOULD, STREAM,
       "The first event has `sequence_number` 0.",
       "OBS: every unedited capture (C-02).")
@check("sequence.contiguous", SHOULD, STREAM,
       "Each event's `sequence_number` is exactly one more than the previous event's.",
       "OBS: every unedited capture; OR: numbers let clients 'detect gaps' (C-05, C-06).")
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
