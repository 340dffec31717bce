"""The assistant: chat threads whose replies survive reloads, restarts and node loss.

Serve it with ``headwater serve --app apps.assistant.module:module``. Threads and
replies are event streams; a reply is written by a leased job, chunk by chunk, and
clients read it back from the log (SSE or the realtime hub), so nothing a worker has
generated can be lost to a refresh or a crash.
"""
