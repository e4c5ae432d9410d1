"""Storefront adapters: one folder per storefront (Pressero first), each with its client,
pure mapping to `daemon.orders.model`, webhook signature and sandbox."""
