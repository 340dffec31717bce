// The guest page: opened from the QR code; the code (in the URL fragment, which never
// reaches a server log) is the guest's credential for their own event's games.
"use strict";
(() => {
  const code = decodeURIComponent(location.hash.slice(1));
  const as = { "x-invitation": code };
  let game = null;
  let timer = null;

  async function refreshBoard() {
    const board = await qe.api(`/api/games/${game.game_id}/leaderboard`, { headers: as });
    qe.board(document.getElementById("board"), board.top);
    qe.text("me", board.me ? `You: #${board.me.rank} with ${board.me.score} points` : "");
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
      const played = await qe.api(`/api/games/${game.game_id}/play`, {
        method: "POST", headers: as, body: { question_id: questionId, choice },
      });
      qe.text("feedback", played.result.correct ? `Right! +${played.result.points}` : "Not this time.");
      ask(played.next_question);
      await refreshBoard();
    } catch (error) {
      qe.text("feedback", error.message);
    }
  }

  async function open(selected) {
    // Joining again after a lost connection resumes at the next unanswered question.
    const state = await qe.api(`/api/games/${selected.game_id}/join`, { method: "POST", headers: as });
    game = state.game;
    document.getElementById("play").hidden = false;
    qe.text("game-title", game.title);
    ask(state.next_question);
    await refreshBoard();
    clearInterval(timer);
    timer = setInterval(() => refreshBoard().catch(() => {}), 3000);
  }

  // Open games this guest has not joined, ranked by what similar guests played.
  async function suggest(games) {
    const found = await qe.api("/api/me/suggested-games", { headers: as });
    const list = document.getElementById("suggested-list");
    list.replaceChildren(...found.games.map((s) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.textContent = s.title;
      button.addEventListener("click", () => open(games.find((g) => g.game_id === s.game_id)));
      const why = document.createElement("small");
      why.textContent = ` ${s.reason}`;
      li.append(button, why);
      return li;
    }));
    document.getElementById("suggested").hidden = found.games.length === 0;
  }

  async function start() {
    try {
      const home = await qe.api("/api/me", { headers: as });
      qe.text("event", home.event_name);
      qe.text("status", home.games.length ? "Pick a game:" : "No game is open yet.");
      const list = document.getElementById("game-list");
      list.replaceChildren(...home.games.map((g) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.textContent = g.title;
        button.addEventListener("click", () => open(g));
        li.append(button);
        return li;
      }));
      document.getElementById("games").hidden = false;
      suggest(home.games).catch(() => {}); // a nicety: the page works without it
    } catch (error) {
      qe.text("status", `This invitation cannot be used: ${error.message}`);
    }
  }
  start();
})();
