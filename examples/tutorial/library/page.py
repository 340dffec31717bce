"""Step 5: a browser page that follows the topic over Server-Sent Events.

The page holds no data: the browser's session cookie (sign in at ``/admin``) lets
``/realtime/sse`` stream the signed-in user's own shelf into it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from library.realtime import TOPIC

router = APIRouter(prefix="/library", tags=["library"])

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>The shelf</title>
<h1>The shelf</h1>
<ul id="books"><li>Sign in at <a href="/admin">/admin</a>, then come back.</li></ul>
<script>
  const list = document.getElementById("books");
  const stream = new EventSource("/realtime/sse?channel=CHANNEL");
  stream.addEventListener("topic", (message) => {
    const { data } = JSON.parse(message.data);
    list.replaceChildren(...data.books.map((book) => {
      const item = document.createElement("li");
      item.textContent = book.title + (book.lent_to ? " (lent to " + book.lent_to + ")" : "");
      return item;
    }));
  });
</script>
""".replace("CHANNEL", f"{TOPIC}:all")


@router.get("/page", response_class=HTMLResponse, include_in_schema=False)
async def page() -> str:
    return PAGE
