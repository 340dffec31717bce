// The guest page: opened from the QR code; the code (in the URL fragment, which never
// reaches a server log) is the guest's credential for their own event's games and is
// shown back as a QR code for the door. Requests go through headwater.js, anonymously
// (the invitation is the credential, not a sign-in).
const { Client } = await qe.headwater();
const code = decodeURIComponent(location.hash.slice(1));
const as = { "x-invitation": code };
const client = new Client({ storageKey: "qrevent.guest", queue: "qrevent.guest" });
const call = (path, options = {}) => client.api(path, { ...options, anonymous: true, headers: as });
let game = null;
let timer = null;

/** Why an invitation or a play was refused, as a sentence. */
function why(error) {
  const reason = error.details && error.details.reason;
  return (reason && qe.refusals[reason]) || qe.say(error);
}

async function refreshBoard() {
  const board = await call(`/api/games/${game.game_id}/leaderboard`);
  qe.board(document.getElementById("board"), board.top);
  qe.text("me", board.me ? `You are number ${board.me.rank}, with ${board.me.score} points.` : "");
}

function ask(question) {
  const box = document.getElementById("choices");
  if (!question) {
    qe.text("question", "All done. Thanks for playing!");
    box.replaceChildren();
    return;
  }
  qe.text("question", question.text);
  box.replaceChildren(...question.choices.map((choice, index) => {
    const button = document.createElement("button");
    button.textContent = choice;
    button.addEventListener("click", () => answer(question.question_id, index));
    return button;
  }));
}

async function answer(questionId, choice) {
  try {
    const played = await call(`/api/games/${game.game_id}/play`, {
      method: "POST", body: { question_id: questionId, choice },
    });
    qe.text("feedback", played.result.correct ? `Right! +${played.result.points}` : "Not this time.");
    ask(played.next_question);
    await refreshBoard();
  } catch (error) {
    qe.text("feedback", why(error));
  }
}

async function open(selected) {
  // Joining again after a lost connection resumes at the next unanswered question.
  const state = await call(`/api/games/${selected.game_id}/join`, { method: "POST" });
  game = state.game;
  document.getElementById("play").hidden = false;
  qe.text("game-title", game.title);
  ask(state.next_question);
  await refreshBoard();
  clearInterval(timer); // one timer, whichever game is open
  timer = setInterval(() => refreshBoard().catch(() => {}), 3000);
}

// Open games this guest has not joined, ranked by what similar guests played.
async function suggest(games) {
  const found = await call("/api/me/suggested-games");
  const list = document.getElementById("suggested-list");
  list.replaceChildren(...found.games.map((s) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = s.title;
    button.addEventListener("click", () => open(games.find((g) => g.game_id === s.game_id)));
    const small = document.createElement("small");
    small.textContent = ` ${s.reason}`;
    li.append(button, small);
    return li;
  }));
  document.getElementById("suggested").hidden = found.games.length === 0;
}

// The QR code as an image: fetched with the invitation header, shown from a blob URL.
async function pass() {
  const response = await fetch("/api/me/qr.svg", { headers: as });
  if (!response.ok) return;
  document.getElementById("qr").src = URL.createObjectURL(await response.blob());
  document.getElementById("pass").hidden = false;
}

async function start() {
  if (!code) {
    qe.text("status", "This link has no invitation in it. Open the link from your invitation again.");
    return;
  }
  try {
    const home = await call("/api/me");
    qe.text("event", home.event_name);
    qe.text("status", home.games.length ? "Pick a game:" : "No game is open yet.");
    pass().catch(() => {}); // the games work without it
    const list = document.getElementById("game-list");
    list.replaceChildren(...home.games.map((g) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.textContent = g.title;
      button.addEventListener("click", () => open(g).catch((error) => qe.text("feedback", why(error))));
      li.append(button);
      return li;
    }));
    document.getElementById("games").hidden = false;
    suggest(home.games).catch(() => {}); // a nicety: the page works without it
  } catch (error) {
    qe.text("status", `This invitation cannot be used. ${why(error)}`);
  }
}
start();
