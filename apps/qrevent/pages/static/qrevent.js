// Shared helpers: the API envelope, staff sign-in kept in sessionStorage.
"use strict";
const qe = {
  async api(path, { method = "GET", body, headers = {} } = {}) {
    const token = sessionStorage.getItem("qe.token");
    const all = { ...headers };
    if (token && !all["x-invitation"]) all.authorization = `Bearer ${token}`;
    if (body !== undefined) all["content-type"] = "application/json";
    const response = await fetch(path, {
      method, headers: all, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(payload.error ? payload.error.message : response.statusText);
      error.code = payload.error ? payload.error.code : "network";
      error.status = response.status;
      throw error;
    }
    return payload.data;
  },
  async signIn(form) {
    const data = new FormData(form);
    const tokens = await qe.api("/auth/login", {
      method: "POST", body: { email: data.get("email"), password: data.get("password") },
    });
    sessionStorage.setItem("qe.token", tokens.access_token);
    return tokens.access_token;
  },
  param(name) { return new URLSearchParams(location.search).get(name); },
  text(id, value) { document.getElementById(id).textContent = value; },
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
