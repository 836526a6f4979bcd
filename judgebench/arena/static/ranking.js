// The ranking page: fetched from /api/ranking every few seconds; texts put in with textContent.
"use strict";

function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
const fixed = (x) => (x === null || x === undefined ? "-" : Number(x).toFixed(1));

async function refresh() {
  const response = await fetch("/api/ranking", { credentials: "same-origin", headers: { "Accept": "application/json" } });
  const data = await response.json().catch(() => ({}));
  const message = document.getElementById("message");
  if (response.status !== 200) { message.textContent = data.error || ("error " + response.status); return; }
  message.textContent = "";
  const body = document.querySelector("#ranking tbody");
  body.replaceChildren();
  data.models.forEach((m) => {
    const row = document.createElement("tr");
    row.dataset.model = m.model;
    cell(row, String(m.rank));
    cell(row, m.model + (m.model === data.anchor ? " (anchor)" : ""));
    cell(row, fixed(m.bt_score));
    cell(row, "[" + fixed(m.ci_low) + ", " + fixed(m.ci_high) + "]");
    cell(row, m.styled_rank === null ? "-" : String(m.styled_rank));
    cell(row, fixed(m.styled_score));
    cell(row, m.styled_score === null ? "-" : "[" + fixed(m.styled_ci_low) + ", " + fixed(m.styled_ci_high) + "]");
    cell(row, String(m.n_games));
    body.appendChild(row);
  });
  document.getElementById("style-note").textContent = data.style_note || "";
  document.getElementById("counts").textContent =
    data.n_counted + " votes counted; " + data.n_flagged + " flagged (an answer gave its model away) and " +
    data.n_checks + " consistency repeats left out; " + data.n_votes + " votes in all.";
  if (data.empty_note) message.textContent = data.empty_note;
  const notes = document.getElementById("notes");
  notes.replaceChildren();
  const lines = data.notes.concat((data.unranked || []).map((u) => "unranked: " + u.model + ": " + u.reason));
  lines.forEach((n) => { const li = document.createElement("li"); li.textContent = n; notes.appendChild(li); });
}

document.addEventListener("DOMContentLoaded", () => { refresh(); setInterval(refresh, 3000); });
