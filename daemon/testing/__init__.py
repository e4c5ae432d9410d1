"""The plumbing of the sandbox servers: real HTTP servers on loopback that stand in for a
storefront or an MIS, with fault knobs (issue 13, part 2).

- `asgi`            the raw ASGI pieces: body reading, answers, streamed faults, hanging up, Basic
- `faults`          fault knobs checked, the one-shot `fail_next` queue, a request's `FaultPlan`
- `json_sandbox`    the frame of the JSON sandboxes (`JsonApp`, `JsonStore`, `Route`)
- `loopback_http`   uvicorn in a thread (`ThreadedServer`), `LoopbackSandbox`, the command line
- `sandbox_session` `make sandbox`: the daemon and the sandboxes driven from a prompt

Nothing in the daemon's runtime imports this package: the spine, the drivers and the clients
run without it. It lives inside `daemon/` and not under `tests/` because the sandboxes that
use it ship in the wheel, each in its provider's or storefront's folder where its manifest
names it (`MANIFEST.sandbox`): `python -m daemon.demo` (`make demo`) runs them from an installed
wheel, where `tests/` does not exist, and `make wheel-check` serves them against the installed
wheel's daemon.
"""
