"""The reference server's routes, one module per endpoint; `app.create_app` puts them together.

Every handler takes the server's `ServerContext` first and is bound to it when the app is
built (`functools.partial`), so a module holds only what its endpoint does:

* `create`: POST /v1/responses, streamed or not (and the acceptance of a request, which the
  WebSocket mode shares);
* `retrieve`: GET /v1/responses/{id} (with `?stream=true` replays) and its input_items;
* `delete`: DELETE /v1/responses/{id};
* `cancel`: POST /v1/responses/{id}/cancel;
* `compact`: POST /v1/responses/compact;
* `websocket`: `response.create` over a WebSocket to /v1/responses;
* `chat_completions`: POST /v1/chat/completions (upstream mode);
* `models`: GET /v1/models and /v1/models/{model};
* `journal`: GET and DELETE /_reference/journal.
"""
