"""ringpad: a client for the ringpad collaborative editing server (protocol ringpad.v1).

- ``Client`` / ``Doc``: one reconnecting WebSocket (asyncio) for many documents,
  with the client state machine, resend by id, presence and events;
- ``Rest``: a synchronous client of the REST API (stdlib urllib);
- ``ringpad.ot``: the OT algebra (apply, compose, transform, invert, positions) in code points.
"""

from .client import Client, Doc, RingpadError, backoff_delay_s
from .names import valid_doc_name
from .ot import OtError, OpBuilder, apply, compose, diff, invert, normalize, transform, transform_position
from .rest import Rest

__all__ = [
    "Client", "Doc", "RingpadError", "Rest", "OtError", "OpBuilder", "apply", "compose", "diff",
    "invert", "normalize", "transform", "transform_position", "valid_doc_name", "backoff_delay_s",
]
__version__ = "0.1.0"
