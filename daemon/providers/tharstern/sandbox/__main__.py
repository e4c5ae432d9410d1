"""`python -m daemon.providers.tharstern.sandbox`: serve one until SIGTERM or SIGINT."""

from daemon.providers.tharstern.sandbox import main

main()
