"""Aleyant Pressero: `guesses` (every unverified route, field and hash rule, with evidence),
`signature` (MessageHash), `mapping` (pure JSON <-> records), `client` (async API),
`sandbox` (a real HTTP Pressero for tests and the demo)."""
