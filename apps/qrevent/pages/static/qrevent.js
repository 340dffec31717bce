// Shared by the three pages: the words people read (machine codes stay in the API),
// and small DOM helpers. Sign-in, refresh, the socket and the offline queue are
// headwater.js's (loaded by each page as a module).
"use strict";
const qe = {
  /** Why a scan was refused, as a sentence for the door. */
  refusals: {
    malformed: "This is not an invitation code.",
    bad_signature: "This code was not issued for this event: it may be forged.",
    unknown_key: "This code was signed with a key this event does not know.",
    unknown_invitation: "There is no invitation with this code.",
    wrong_event: "This invitation is for another event.",
    event_not_live: "Check-in is not open: the event is not live.",
    revoked: "This invitation was cancelled by the organizer.",
    not_on_invitation: "That guest is not on this invitation.",
    not_inside: "This guest is not inside, so cannot be checked out.",
    scan_id_reused: "This scanner sent a different scan under the same number; scan again.",
  },
  /** API error codes, as sentences for any page. */
  errors: {
    network: "No connection to the server. Check the network.",
    invalid_credentials: "That email and password do not match.",
    unauthenticated: "Please sign in again.",
    token_expired: "Your sign-in ran out. Please sign in again.",
    forbidden: "This account may not do that.",
    not_found: "Not found: the link may be out of date.",
    rate_limited: "Too many tries at once. Wait a moment and try again.",
    already_answered: "You already answered this question.",
    invalid_transition: "This game is not open right now.",
    unknown_gate: "This gate is not one of the event's gates.",
    display_only: "This screen may show its own event's leaderboards only.",
  },
  /** @param {{code?: string, status?: number}} error */
  say(error) {
    if (error && error.code && qe.errors[error.code]) return qe.errors[error.code];
    if (error && error.status === 401) return qe.errors.unauthenticated;
    return "Something went wrong. Try again in a moment.";
  },
  param(name) { return new URLSearchParams(location.search).get(name); },
  text(id, value) { document.getElementById(id).textContent = value; },
  /** The page's copy of headwater.js, named (fingerprinted) by a modulepreload link. */
  headwater() { return import(document.querySelector("link[rel=modulepreload]").href); },
  /** Shows the sign-in form or the page behind it. */
  signedIn(yes) {
    document.getElementById("login").hidden = yes;
    document.getElementById("signout").hidden = !yes;
  },
  /** Wires the sign-in form and the sign-out button to a client. */
  wireSignIn(client, onSignedIn) {
    const form = document.getElementById("login");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        await client.signIn(data.get("email"), data.get("password"));
        form.reset();
        qe.signedIn(true);
        await onSignedIn();
      } catch (error) {
        qe.text("login-error", qe.say(error));
      }
    });
    document.getElementById("signout").addEventListener("click", () => client.signOut());
    client.addEventListener("signin-required", (e) => {
      qe.signedIn(false);
      qe.text("login-error", e.detail === "expired" && client.everSignedIn ? qe.errors.token_expired : "");
    });
    client.addEventListener("session", () => { client.everSignedIn = true; });
  },
  board(list, entries) {
    list.replaceChildren(...entries.map((e) => {
      const li = document.createElement("li");
      li.dataset.participant = e.participant_id;
      const name = document.createElement("span");
      name.textContent = `${e.rank}. ${e.name}`;
      const score = document.createElement("strong");
      score.textContent = e.score;
      li.append(name, score);
      return li;
    }));
  },
};
window.qe = qe;
