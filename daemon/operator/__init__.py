"""The operator socket: how a person (through the `esd` CLI) asks the running daemon what it does.

- `protocol`: protocol v1 as pure functions (newline-delimited JSON; docs/operator-protocol.md)
- `server`: `OperatorServer`, the unix-socket listener the daemon runs
- `client`: `OperatorClient` and `call_sync`, what the CLI talks through
- `render`: results as fixed-width tables for people
"""
