"""Model providers behind one interface (``base.Provider``): the local, offline one and an
OpenAI-compatible chat-completions client."""
