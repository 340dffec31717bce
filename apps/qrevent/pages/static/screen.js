// The venue screen: follows leaderboard:{game} over the realtime WebSocket; if the
// socket drops it reconnects, and polls in the meantime so the screen never freezes.
"use strict";
(() => {
  const gameId = qe.param("game");
  const list = document.getElementById("board");
  let poll = null;

  async function fetchBoard() {
    const board = await qe.api(`/api/games/${gameId}/leaderboard?limit=10`);
    qe.board(list, board.top);
  }

  function connect(token) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/realtime/ws`);
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token })));
    ws.addEventListener("message", (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "welcome") {
        ws.send(JSON.stringify({ type: "subscribe", channel: `leaderboard:${gameId}` }));
      } else if (frame.type === "subscribed") {
        qe.text("status", "Live");
        clearInterval(poll);
      } else if (frame.type === "topic") {
        qe.board(list, frame.data.top);
      }
    });
    ws.addEventListener("close", () => {
      qe.text("status", "Reconnecting…");
      poll = setInterval(() => fetchBoard().catch(() => {}), 2000);
      setTimeout(() => connect(sessionStorage.getItem("qe.token")), 2000);
    });
    setInterval(() => ws.readyState === 1 && ws.send(JSON.stringify({ type: "ping" })), 20000);
  }

  async function show(token) {
    document.getElementById("login").hidden = true;
    const game = await qe.api(`/api/games/${gameId}`);
    qe.text("title", game.title);
    await fetchBoard();
    connect(token);
  }

  const form = document.getElementById("login");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await show(await qe.signIn(form)); } catch (error) { qe.text("status", error.message); }
  });
  const token = sessionStorage.getItem("qe.token");
  if (token) show(token).catch((error) => qe.text("status", error.message));
})();
