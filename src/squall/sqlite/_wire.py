"""The JSON-lines protocol shared by the server and the Python client.

A session switches to it with the line `.mode jsonl`; the server answers with one JSON
object and from then on reads one JSON object per line and answers each with one line.

Requests::

    {"sql": "SELECT ...", "params": [1, "x"]}      # or "params": {"name": ...}
    {"sql": "SELECT ...", "text": true}           # answer rendered by .mode/.headers
    {"sql": ".tables"}                            # dot-commands answer with "text"
    {"auth": "TOKEN"}

Answers::

    {"ok": true, "columns": [...], "rows": [[...], ...], "rowcount": 1,
     "lastrowid": 7, "tx": false}                 # "truncated": true past --max-rows
    {"ok": true, "text": "...", "tx": false}
    {"ok": false, "error": "no such table: t", "code": "SQLITE_ERROR", "tx": false}

Values are JSON's own (integer, float, string, null), except a BLOB, which is
`{"$blob": "<base64>"}`, and infinite floats, written `Infinity` / `-Infinity` as
Python's `json` does. `tx` tells whether the session is inside a transaction. A
request with several statements runs them in order, stops at the first error, and
answers with the last one's result.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any

BLOB_KEY = "$blob"
HANDSHAKE = ".mode jsonl"


def _encode_extra(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return {BLOB_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"cannot send a {type(value).__name__} to SQLite")


def _decode_object(obj: dict[str, Any]) -> object:
    if len(obj) == 1 and BLOB_KEY in obj:
        return base64.b64decode(obj[BLOB_KEY])
    return obj


# Built once: `json.dumps`/`json.loads` with options build a new coder on every call,
# and so does `JSONEncoder.encode` (json's C encoder, made anew for each message): both
# cost more than coding a small message.
_ENCODER = json.JSONEncoder(default=_encode_extra, separators=(",", ":"))
_C_ENCODER: Callable[..., Callable[[object, int], Sequence[str]]] | None = vars(json.encoder).get(
    "c_make_encoder"
)
_ITERENCODE = (
    None
    if _C_ENCODER is None  # a Python without json's C part: the encoder's own way
    else _C_ENCODER(
        None,
        _encode_extra,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
)
_DECODER = json.JSONDecoder()
_BLOB_DECODER = json.JSONDecoder(object_hook=_decode_object)
_BLOB_MARK = '"' + BLOB_KEY + '"'


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of ASCII JSON, newline included.

    Raises:
        TypeError: a value JSON cannot hold (nor a BLOB).
        ValueError: a value that cannot be written.
    """
    if _ITERENCODE is None:
        return (_ENCODER.encode(message) + "\n").encode()
    return ("".join(_ITERENCODE(message, 0)) + "\n").encode()


def decode(line: bytes | str) -> Any:
    """One line back into a message; BLOBs become `bytes`.

    Raises:
        ValueError: the line is not JSON.
    """
    text = line.decode() if isinstance(line, bytes) else line
    if _BLOB_MARK in text:  # only then is the per-object hook worth its cost
        return _BLOB_DECODER.decode(text)
    if text[:1] == "{":  # the usual request: no whitespace around, so no need to look
        message, end = _DECODER.raw_decode(text)
        if end == len(text):
            return message
    return _DECODER.decode(text)
