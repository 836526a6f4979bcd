// The arena's page. Every text from the server (questions, answers, model names) is put in with textContent,
// never parsed as HTML: answers are untrusted and may hold markup.
"use strict";

let csrf = null;
let battle = null;

const $ = (id) => document.getElementById(id);

function show(id, visible) { $(id).hidden = !visible; }
function say(text) { $("message").textContent = text || ""; }

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, { method, headers, credentials: "same-origin",
                                       body: body === undefined ? undefined : JSON.stringify(body) });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  return { status: response.status, data };
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render(shown) {
  battle = shown;
  $("category").textContent = shown.category;
  const conversation = $("conversation");
  conversation.replaceChildren();
  shown.questions.forEach((question, i) => {
    const turn = element("div", "turn");
    turn.appendChild(element("div", "question", question));
    const answers = element("div", "answers");
    [["A", shown.answer_a[i]], ["B", shown.answer_b[i]]].forEach(([side, text]) => {
      const box = element("div", "answer");
      box.dataset.side = side;
      box.appendChild(element("h3", "", "Answer " + side));
      box.appendChild(element("div", "text", text || ""));
      answers.appendChild(box);
    });
    turn.appendChild(answers);
    conversation.appendChild(turn);
  });
  $("reason").value = "";
  show("votebar", true);
  show("reveal", false);
  show("battle", true);
  document.querySelectorAll("[data-winner]").forEach((b) => { b.disabled = false; });
}

async function nextBattle() {
  say("");
  const { status, data } = await api("GET", "/api/battle");
  if (status === 200) { render(data); return; }
  show("battle", false);
  if (status === 401) { loggedOut(); return; }
  say(data.error || ("error " + status));
}

async function vote(winner) {
  if (!battle) return;
  document.querySelectorAll("[data-winner]").forEach((b) => { b.disabled = true; });
  const reason = $("reason").value.trim();
  const { status, data } = await api("POST", "/api/vote",
                                     { battle_id: battle.battle_id, winner, reason: reason || undefined });
  if (status !== 200) {
    say(data.error || ("error " + status));
    document.querySelectorAll("[data-winner]").forEach((b) => { b.disabled = false; });
    return;
  }
  $("model-a").textContent = data.model_a;
  $("model-b").textContent = data.model_b;
  let note = "Your vote is recorded.";
  if (data.consistency_check) note = "This battle was a repeat (a consistency check): thank you.";
  else if (data.flagged) note = "An answer gave its model away, so this vote is kept out of the ranking.";
  $("reveal-note").textContent = note;
  show("votebar", false);
  show("reveal", true);
  $("next").focus();
}

function loggedOut() {
  csrf = null;
  $("who").textContent = "";
  show("logout", false);
  show("ranking-link", false);
  show("battle", false);
  show("login", true);
}

function loggedIn(data) {
  csrf = data.csrf;
  $("who").textContent = data.voter;
  show("logout", true);
  show("ranking-link", true);
  show("login", false);
  nextBattle();
}

async function start() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { status, data } = await api("POST", "/api/login", { token: $("token").value });
    $("token").value = "";
    if (status === 200) { loggedIn(data); } else { say(data.error || ("error " + status)); }
  });
  document.querySelectorAll("[data-winner]").forEach((button) => {
    button.addEventListener("click", () => vote(button.dataset.winner));
  });
  $("next").addEventListener("click", nextBattle);
  $("logout").addEventListener("click", async () => { await api("POST", "/api/logout", {}); loggedOut(); });
  const { status, data } = await api("GET", "/api/me");
  if (status === 200 && data.voter) loggedIn(data); else loggedOut();
}

document.addEventListener("DOMContentLoaded", start);
