"""Inbound HTTP: storefront (and later MIS) webhooks into the durable inbox."""
