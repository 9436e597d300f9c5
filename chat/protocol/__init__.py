"""The websocket protocol of docs/websocket-protocol.md: inbound frame parsing, outbound frame
builders, the code -> words table, and the client-side sequence rules."""
