"""Storefront plug-ins: the contract every storefront implements (`contract`), the lazy registry
that loads one by name (`registry`), the actor that drives one connection (`actor`), and one
folder per storefront with its client, pure mapping to `daemon.orders.model`, webhook judge
and sandbox."""
