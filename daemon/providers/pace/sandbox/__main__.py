"""`python -m daemon.providers.pace.sandbox`: serve a Pace sandbox until SIGTERM or SIGINT."""

from daemon.providers.pace.sandbox.server import main

main()
