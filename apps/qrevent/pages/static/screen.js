// The venue screen: read-only, follows leaderboard:{game} over headwater.js's one
// socket. The client refreshes the sign-in before it expires and reconnects on one
// timer; the board is fetched once per (re)connection, never polled.
const { Client } = await qe.headwater();
const gameId = qe.param("game");
const list = document.getElementById("board");
const client = new Client({ storageKey: "qrevent.screen", queue: "qrevent.screen" });
const words = {
  connecting: "Connecting…", reconnecting: "Reconnecting…", live: "Live",
  offline: "Offline: showing the last board", stopped: "",
};

async function fetchBoard() {
  const board = await client.api(`/api/games/${gameId}/leaderboard?limit=10`);
  qe.board(list, board.top);
}

client.addEventListener("status", (e) => {
  qe.text("status", words[e.detail] ?? "");
  if (e.detail === "live") fetchBoard().catch(() => {}); // catch up on what was missed
});

async function show() {
  qe.signedIn(true);
  try {
    const game = await client.api(`/api/games/${gameId}`);
    qe.text("title", game.title);
  } catch (error) {
    qe.text("status", qe.say(error));
  }
  client.subscribe(`leaderboard:${gameId}`, (frame) => {
    if (frame.type === "topic") qe.board(list, frame.data.top);
  });
}

qe.wireSignIn(client, show);
if (await client.resume()) await show();
