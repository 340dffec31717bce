// The venue screen: read-only, follows leaderboard:{game} over headwater.js's one
// socket. The client refreshes the sign-in before it expires and reconnects on one
// timer; the board is fetched once per (re)connection, never polled.
//
// Signed in by a display link (`#display=…`, issued by the organizer): a credential
// that may read this event's leaderboards and nothing else, so a screen left in a
// hall gives no one staff rights. The link is kept in localStorage so a screen whose
// session was lost (a cleared refresh token, a restarted node) signs itself in again;
// a revoked link cannot, and the screen says so. Staff may still sign in by hand.
const { Client } = await qe.headwater();
const gameId = qe.param("game");
const list = document.getElementById("board");
const client = new Client({ storageKey: "qrevent.screen", queue: "qrevent.screen" });
const LINK = "qrevent.screen.display";
const words = {
  connecting: "Connecting…", reconnecting: "Reconnecting…", live: "Live",
  offline: "Offline: showing the last board", stopped: "",
};

const given = new URLSearchParams(location.hash.slice(1)).get("display");
if (given) {
  localStorage.setItem(LINK, given);
  // Out of the address bar (and of photos of the screen); the session is kept instead.
  history.replaceState(null, "", location.pathname + location.search);
}

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
  document.getElementById("signout").hidden = Boolean(localStorage.getItem(LINK));
  const shown = localStorage.getItem(`${LINK}.event`);
  if (shown) {
    qe.text("title", shown);
  } else {
    try {
      const game = await client.api(`/api/games/${gameId}`);
      qe.text("title", game.title);
    } catch (error) {
      qe.text("status", qe.say(error));
    }
  }
  client.subscribe(`leaderboard:${gameId}`, (frame) => {
    if (frame.type === "topic") qe.board(list, frame.data.top);
  });
}

/** Signs in with the kept display link; false when it is refused (revoked). */
async function asDisplay() {
  const link = localStorage.getItem(LINK);
  if (!link) return false;
  try {
    const account = await client.signInWith("/api/displays/session", { display: link });
    localStorage.setItem(`${LINK}.event`, account.event_name);
    return true;
  } catch (error) {
    if (error.status === 0) { qe.text("status", qe.say(error)); return false; }
    localStorage.removeItem(LINK);
    localStorage.removeItem(`${LINK}.event`);
    qe.text("login-error", "This screen's display link was revoked or is not valid. Ask the organizer for a new one.");
    return false;
  }
}

qe.wireSignIn(client, show);
// A refresh the server refused: one sign-in with the display link, never a loop.
let retried = false;
client.addEventListener("signin-required", async () => {
  if (retried || !localStorage.getItem(LINK)) return;
  retried = true;
  if (await asDisplay()) { retried = false; await show(); }
});
if (given) {
  retried = true; // the sign-out below asks for a sign-in: it is this one
  await client.signOut().catch(() => {}); // a new link replaces whatever signed in here
  if (await asDisplay()) { retried = false; await show(); }
} else if (await client.resume()) {
  await show();
}
