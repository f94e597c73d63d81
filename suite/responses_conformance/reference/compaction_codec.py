"""The `encrypted_content` of a `compaction` item (what `POST /v1/responses/compact` of the
reference server returns, `compact.py`): sealed, so that only what this server produced is read
back.

It is a versioned, compressed encoding of the turns the compaction folds (assistant turns, tool
calls and their outputs, reasoning), sealed with a tag (`rcmp1.<URL-safe base64>.<tag>`):
opaque to clients, the same for the same conversation. `encode` writes it; `decode` reads it
back into the turns it folded, when a request's `input` carries the item (validation.py).
Content this server did not produce - a forged or altered one, or another server's (OpenAI's
`gAAAA...`) - is `NotOurs`, which a request answers with 400 `invalid_encrypted_content`
naming `input[i].encrypted_content`. The seal proves the content came from this
implementation unaltered, not secrecy: its key is fixed and the source is public.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib

from .model import Message

ENCODING_PREFIX = "rcmp1."
#: The key of the tag that seals `encrypted_content`: fixed, so that every reference server
#: reads every other's compactions and the encoding stays deterministic. It proves the content
#: came from this implementation unaltered, not secrecy (the source is public).
_SEAL_KEY = b"responses-conformance reference compaction v1"
_TAG_LENGTH = 22  # characters of URL-safe base64 (128 bits of HMAC-SHA256)
#: The most a compaction may unpack to (a zip bomb is refused, not inflated).
MAX_UNPACKED = 4 * 1024 * 1024


class NotOurs(ValueError):
    """`encrypted_content` that this server did not produce (forged, altered or foreign)."""


def _tag(packed: str) -> str:
    digest = hmac.new(_SEAL_KEY, (ENCODING_PREFIX + packed).encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_TAG_LENGTH]


def encode(messages: list[Message]) -> str:
    """The opaque `encrypted_content` of the folded turns (deterministic)."""
    folded = [{"role": m.role, "text": m.text, **({"call_id": m.call_id} if m.call_id else {}),
               **({"name": m.name} if m.name else {})} for m in messages]
    packed = zlib.compress(json.dumps(folded, ensure_ascii=False, separators=(",", ":")).encode(), 9)
    body = base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")
    return f"{ENCODING_PREFIX}{body}.{_tag(body)}"


def decode(content: str) -> list[Message]:
    """The turns a compaction item folded; `NotOurs` for content this server did not seal."""
    if not content.startswith(ENCODING_PREFIX):
        raise NotOurs("it is not a compaction of this server")
    body, dot, tag = content[len(ENCODING_PREFIX):].partition(".")
    if not dot or not body.isascii() or not hmac.compare_digest(tag.encode("ascii", "replace"),
                                                              _tag(body).encode("ascii")):
        raise NotOurs("its seal does not match (forged or altered)")
    try:
        inflater = zlib.decompressobj()
        unpacked = inflater.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)), MAX_UNPACKED)
        folded = json.loads(unpacked) if inflater.eof and not inflater.unconsumed_tail else None
    except (binascii.Error, zlib.error, ValueError) as exc:
        raise NotOurs("it does not unpack") from exc
    if not isinstance(folded, list):
        raise NotOurs("it does not unpack to turns")
    messages = []
    for turn in folded:
        if not isinstance(turn, dict) or not isinstance(turn.get("role"), str) or not isinstance(turn.get("text"), str):
            raise NotOurs("it does not unpack to turns")
        call_id, name = turn.get("call_id"), turn.get("name")
        messages.append(Message(turn["role"], turn["text"], call_id=call_id if isinstance(call_id, str) else None,
                                name=name if isinstance(name, str) else None))
    return messages
