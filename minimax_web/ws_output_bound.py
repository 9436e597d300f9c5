"""Close a websocket whose unsent output passes a bound, instead of buffering it without limit.

ASGI has no backpressure: a consumer's `await send(...)` returns as soon as Daphne has handed
the frame to Twisted (daphne.ws_protocol.WebSocketProtocol.serverSend -> autobahn sendMessage
-> transport.write), and whatever the kernel does not take waits in the transport's write
buffer for as long as the client does not read. A client that asks for snapshots and never
reads would grow the process by each one, and the memory is not given back to the system
afterwards. So after every frame written we look at the bytes still waiting to be sent and,
past MAX_WS_UNSENT_BYTES, abort the connection: the buffer is dropped, the consumer gets its
disconnect, and later frames for that socket are discarded. See docs/architecture.md.
"""

from __future__ import annotations

import logging

from daphne.ws_protocol import WebSocketProtocol
from twisted.internet.abstract import FileDescriptor

log = logging.getLogger(__name__)


def _socket_transport(transport: object) -> FileDescriptor | None:
    # A TLS transport wraps the TCP one, which buffers the encrypted bytes.
    while transport is not None and not isinstance(transport, FileDescriptor):
        transport = getattr(transport, "transport", None)
    return transport


def unsent_bytes(transport: object) -> int:
    """Bytes written to `transport` that the kernel has not accepted yet."""
    descriptor = _socket_transport(transport)
    if descriptor is None:
        return 0
    # twisted.internet.abstract.FileDescriptor.write/doWrite: `dataBuffer[offset:]` is being
    # written, `_tempDataBuffer` (of `_tempDataLen` bytes) waits behind it.
    return len(descriptor.dataBuffer) - descriptor.offset + descriptor._tempDataLen


def _discard_unsent(transport: object) -> None:
    """Free the buffer of an aborted transport now. abortConnection() never sends it (doWrite
    becomes a no-op) but keeps it referenced until Daphne reaps the connection, which waits for
    the consumer to finish; meanwhile the process would grow by its size once more."""
    descriptor = _socket_transport(transport)
    if descriptor is not None:
        descriptor.dataBuffer = b""
        descriptor.offset = 0
        descriptor._tempDataBuffer = []
        descriptor._tempDataLen = 0


def install(*, max_unsent_bytes: int) -> None:
    """Bound every Daphne websocket of this process (idempotent)."""
    original = WebSocketProtocol.serverSend
    if getattr(original, "bounded", False):
        return

    def serverSend(self: WebSocketProtocol, content: str | bytes, binary: bool = False) -> None:
        if getattr(self, "output_bound_exceeded", False):
            return  # aborted below; the consumer's disconnect is on its way
        original(self, content, binary)
        # Checked after the write, so the frame that crosses the bound is dropped with the rest
        # rather than left behind in a buffer that nobody will ever flush.
        unsent = unsent_bytes(self.transport)
        if unsent > max_unsent_bytes:
            self.output_bound_exceeded = True
            log.warning(
                "closing websocket %s: %d bytes unsent, more than MAX_WS_UNSENT_BYTES=%d "
                "(the client is not reading)",
                self.client_addr,
                unsent,
                max_unsent_bytes,
            )
            self.dropConnection(abort=True)
            _discard_unsent(self.transport)

    serverSend.bounded = True
    WebSocketProtocol.serverSend = serverSend
