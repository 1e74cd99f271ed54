// plytree serve: play against a player spec and watch the analysis (no build step, no libraries).
// The page keeps the moves; the server answers positions (/api/state), engine moves (/api/move) and
// analysis queries (/api/analysis, the protocol of `plytree analysis`). After every move the page asks
// for deeper and deeper analyses of the new position and draws each answer as it arrives.
"use strict";

const $ = (id) => document.getElementById(id);
const ANALYSIS_STEPS = [200, 1000, 4000, 16000]; // simulations of the successive analyses of one position
let games = [];
let current = null;        // {name, params}
let moves = [];            // actions played
let view = null;           // the last /api/state answer
let generation = 0;        // bumps on every change of position: stale answers are dropped
let engineBusy = false;

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: {"Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    const err = new Error(data.error ? data.error.message : response.statusText);
    err.code = data.error ? data.error.code : "http";
    throw err;
  }
  return data;
}

function showError(message) {
  const box = $("error");
  box.hidden = !message;
  box.textContent = message || "";
}

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function humanSide() { return parseInt($("side").value, 10); }

async function newGame() {
  const name = $("game").value;
  current = games.find((g) => g.name === name);
  moves = [];
  showError("");
  await refresh();
}

async function refresh() {
  const mine = ++generation;
  view = await api("/api/state", {game: current.name, gameParams: current.params, moves});
  if (mine !== generation) return;
  drawPosition();
  if ($("analyse").checked && !view.isTerminal) analyseLoop(mine);
  else clearAnalysis(view.isTerminal ? "game over" : "off");
  if (view.isTerminal) {
    const r = view.returns;
    const text = r[0] > 0 ? "first player (x) wins" : r[0] < 0 ? "second player (o) wins" : "draw";
    setStatus("over", `Game over: ${text}`);
  } else if (view.toMove === humanSide()) {
    setStatus("your-move", "Your move");
  } else {
    engineMove(mine);
  }
}

async function engineMove(mine) {
  if (engineBusy) return;
  engineBusy = true;
  setStatus("engine", "Engine is thinking…");
  try {
    const answer = await api("/api/move", {game: current.name, gameParams: current.params, moves,
                                           player: $("opponent").value, seed: moves.length});
    if (mine !== generation) return;
    moves.push(answer.action);
  } catch (err) {
    showError(`engine: ${err.message}`);
    setStatus("error", "The engine could not move");
    return;
  } finally {
    engineBusy = false;
  }
  await refresh();
}

function play(action) {
  if (!view || view.isTerminal || view.toMove !== humanSide() || engineBusy) return;
  if (!view.legal.some((m) => m.action === action)) return;
  moves.push(action);
  refresh().catch((err) => showError(err.message));
}

function drawPosition() {
  const board = $("board");
  board.innerHTML = "";
  const grid = view.grid;
  $("text-board").hidden = !!grid;
  $("legal-moves").hidden = !!grid;
  board.hidden = !grid;
  if (grid) {
    board.className = grid.kind;
    const legal = new Set(view.legal.map((m) => m.action));
    for (let r = 0; r < grid.rows; r++) {
      const row = document.createElement("div");
      row.className = "row";
      if (grid.kind === "hex") row.style.marginLeft = `${r * 18}px`;
      for (let c = 0; c < grid.cols; c++) {
        const cell = document.createElement("div");
        const action = grid.actions[r][c];
        cell.className = `cell ${grid.cells[r][c]}`;
        cell.dataset.r = r;
        cell.dataset.c = c;
        cell.dataset.action = action;
        if (legal.has(action) && (grid.kind !== "connect4" || grid.cells[r][c] === "")) cell.dataset.legal = "1";
        cell.addEventListener("click", () => play(action));
        row.appendChild(cell);
      }
      board.appendChild(row);
    }
  } else {
    $("text-board").textContent = view.text;
    const box = $("legal-moves");
    box.innerHTML = "";
    for (const m of view.legal) {
      const b = document.createElement("button");
      b.textContent = m.move;
      b.addEventListener("click", () => play(m.action));
      box.appendChild(b);
    }
  }
  const list = $("move-list");
  list.innerHTML = "";
  for (const text of view.moveTexts) {
    const li = document.createElement("li");
    li.textContent = text;
    list.appendChild(li);
  }
}

function clearAnalysis(state) {
  $("analysis-status").dataset.state = state;
  $("analysis-status").textContent = state;
  $("analysis-lines").querySelector("tbody").innerHTML = "";
  $("value-fill").style.width = "50%";
}

async function analyseLoop(mine) {
  clearAnalysis("running");
  for (const simulations of ANALYSIS_STEPS) {
    if (mine !== generation || !$("analyse").checked) return;
    let answer;
    try {
      answer = await api("/api/analysis", {id: `${mine}-${simulations}`, game: current.name,
                                           gameParams: current.params, moves, limit: {simulations, time: 5},
                                           player: $("analysis-player").value, multiPV: 5,
                                           includePolicy: true, includeVisits: true});
    } catch (err) {
      if (mine === generation) {
        $("analysis-status").dataset.state = "error";
        $("analysis-status").textContent = `analysis: ${err.message}`;
      }
      return;
    }
    if (mine !== generation) return;
    drawAnalysis(answer);
  }
  if (mine === generation) $("analysis-status").dataset.state = "done";
}

function drawAnalysis(a) {
  const s = a.stats;
  $("analysis-status").dataset.state = "updated";
  $("analysis-status").dataset.simulations = s.simulations;
  const proven = a.isProven ? ` (proven ${a.provenValue > 0 ? "win" : a.provenValue < 0 ? "loss" : "draw"})` : "";
  $("analysis-status").textContent =
    `best ${a.bestMove}, value ${(a.rootValue ?? 0).toFixed(3)}${proven} · ${s.simulations} simulations, ${s.seconds.toFixed(2)} s`;
  $("value-fill").style.width = `${50 + 50 * (a.rootValue ?? 0)}%`;
  const body = $("analysis-lines").querySelector("tbody");
  body.innerHTML = "";
  for (const line of a.lines) {
    const tr = document.createElement("tr");
    const cells = [line.move, line.value === null ? "–" : line.value.toFixed(3),
                   line.visits === null ? "–" : String(line.visits), line.pv.join(" ")];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 3) td.className = "pv";
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  drawHeat(a);
}

function drawHeat(a) {
  if (!view.grid) return;
  const visits = new Map((a.visits || []).map((v) => [v.action, v.visits]));
  const total = [...visits.values()].reduce((x, y) => x + y, 0);
  const weight = new Map(total > 0 ? [...visits].map(([k, v]) => [k, v / total])
                                   : (a.policy || []).map((p) => [p.action, p.prior || 0]));
  const top = Math.max(1e-9, ...weight.values());
  for (const cell of $("board").querySelectorAll(".cell")) {
    cell.querySelector(".heat")?.remove();
    cell.classList.remove("best");
    const action = parseInt(cell.dataset.action, 10);
    if (!cell.dataset.legal || !weight.has(action)) continue;
    const heat = document.createElement("div");
    heat.className = "heat";
    heat.style.opacity = (0.65 * weight.get(action) / top).toFixed(3);
    cell.appendChild(heat);
    if (action === a.bestAction) cell.classList.add("best");
  }
}

async function start() {
  games = await api("/api/games");
  const select = $("game");
  for (const g of games) {
    const option = document.createElement("option");
    option.value = g.name;
    option.textContent = g.label;
    select.appendChild(option);
  }
  $("new-game").addEventListener("click", () => newGame().catch((err) => showError(err.message)));
  $("game").addEventListener("change", () => newGame().catch((err) => showError(err.message)));
  $("side").addEventListener("change", () => refresh().catch((err) => showError(err.message)));
  $("analyse").addEventListener("change", () => refresh().catch((err) => showError(err.message)));
  await newGame();
}

start().catch((err) => showError(err.message));
