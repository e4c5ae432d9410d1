"""What providers and storefronts share when they call a remote server.

- `http_errors`          an HTTP answer or a transport failure classified: transient (the spine
                         retries) or permanent (a business error, named), with the server's
                         message cut and never a secret;
- `in_call_retry`        the few quick retries of an idempotent read inside one call;
- `deadline`             the overall deadline of one call and the largest answer read
                         (`CallLimits`, the `call_deadline_seconds` / `max_answer_bytes` keys);
- `keepalive_transport`  the lean keep-alive transport of the Pace SOAP client (it steps aside
                         when a proxy applies); every other client uses httpx's own transport;
- `json_text`            the JSON reader with a nesting limit, for answers, webhooks and
                         settings alike.

Nothing here knows a provider or a storefront: it sits below both (`daemon.providers`,
`daemon.storefronts`).
"""
