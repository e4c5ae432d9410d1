"""`python -m daemon.storefronts.pressero.sandbox`: serve a Pressero sandbox until a signal."""

from daemon.storefronts.pressero.sandbox.server import main

main()
