"""A self-contained HTML report: a colour matrix of case x browser x pin, filterable, with cell details.

The cells are embedded as packed JSON (lab/report/packed.py: each distinct string,
header list and exchange stored once, a cell five numbers; `<`, `>` and `&`
escaped) and a cell's details are decoded when it is opened and rendered with
`textContent` only, so nothing a server or browser said can become markup. The
results themselves are not copied: the page holds what it shows.
"""

from __future__ import annotations

import json
from typing import Any, Dict

from .cells import pins_of
from .claims import verdicts
from .packed import SHAPE, pack
from .releases import consecutive_pin_changes


def _embedded(data: Dict[str, Any]) -> str:
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def report_data(document: Dict[str, Any]) -> Dict[str, Any]:
    """What the page embeds: the run's description, the claims, the pin steps and the packed cells."""
    return {
        "environment": document["environment"],
        "browsers": document["browsers"],
        "pins": pins_of(document),
        "complete": document.get("complete", True),
        "claims": verdicts(document),
        "pinSteps": consecutive_pin_changes(document),
        "shape": [list(field) for field in SHAPE],
        **pack(document["results"]),
    }


def html_report(document: Dict[str, Any]) -> str:
    return PAGE.replace("__DATA__", _embedded(report_data(document)))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cors-lab compatibility report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { padding: 16px 24px 8px; background: #fff; border-bottom: 1px solid #dde1e7; }
h1 { font-size: 20px; margin: 0 0 4px; }
#meta { color: #555; margin: 0; font-size: 12px; }
#filters { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; padding: 10px 24px; background: #fff;
           border-bottom: 1px solid #dde1e7; position: sticky; top: 0; z-index: 2; }
#filters select { max-width: 260px; }
#count { color: #555; margin-left: auto; }
.legend { display: inline-flex; gap: 8px; align-items: center; font-size: 12px; }
main { display: flex; gap: 16px; padding: 16px 24px; align-items: flex-start; }
#wrap { overflow: auto; max-height: calc(100vh - 150px); background: #fff; border: 1px solid #dde1e7; }
table { border-collapse: collapse; }
th, td { padding: 0; }
thead th { position: sticky; background: #fff; z-index: 1; font-weight: 600; }
thead tr:first-child th { top: 0; }
thead tr:nth-child(2) th { top: 24px; }
th.browser { border-left: 2px solid #c7ccd4; height: 24px; }
th.pin { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: 400; font-size: 11px; padding: 4px 2px; color: #444; }
td.name { padding: 2px 10px; white-space: nowrap; max-width: 480px; overflow: hidden; text-overflow: ellipsis; }
tr.scenario td { background: #eef1f5; font-weight: 600; padding: 4px 10px; }
td.cell { width: 22px; height: 22px; text-align: center; }
td.first { border-left: 2px solid #c7ccd4; }
.box { display: inline-block; width: 18px; height: 18px; line-height: 18px; border-radius: 3px; font-size: 11px;
       font-weight: 700; color: #fff; cursor: pointer; }
.allowed { background: #2f9e55; } .blocked { background: #c98a12; } .error { background: #c23b3b; } .timeout { background: #7a3bc2; }
.unsupported { background: #a3a9b3; }
.box.unexpected { outline: 3px solid #111; outline-offset: -1px; }
.box.selected { box-shadow: 0 0 0 3px #3b82f6; }
.box.disagrees { background-image: linear-gradient(225deg, #1d2330 0 5px, transparent 5px); }
.model { background: #eef4ff; border-left: 3px solid #3b82f6; padding: 6px 8px; margin: 8px 0; }
#steps { margin: 0 24px 24px; background: #fff; border: 1px solid #dde1e7; padding: 8px 16px; }
#steps table { width: 100%; } #steps td, #steps th { text-align: left; padding: 4px 8px; border-top: 1px solid #eef0f3; }
#steps h3 { font-size: 14px; margin: 12px 0 4px; } .note { color: #555; font-size: 12px; }
#claims { margin: 0 24px 24px; background: #fff; border: 1px solid #dde1e7; padding: 8px 16px; }
#claims table { width: 100%; } #claims td, #claims th { text-align: left; padding: 4px 8px; border-top: 1px solid #eef0f3; vertical-align: top; }
.verdict-confirmed { color: #1f7a3f; font-weight: 700; } .verdict-refuted { color: #b02a2a; font-weight: 700; }
.verdict-depends { color: #8a5a00; font-weight: 700; } .verdict-untested { color: #666; font-weight: 700; }
#details { width: 520px; flex: none; background: #fff; border: 1px solid #dde1e7; padding: 12px 16px; position: sticky; top: 60px;
           max-height: calc(100vh - 110px); overflow: auto; }
#details h2 { font-size: 16px; margin: 0 0 8px; }
#details dl { display: grid; grid-template-columns: 130px 1fr; gap: 2px 8px; margin: 0 0 10px; }
#details dt { color: #555; } #details dd { margin: 0; word-break: break-word; }
.exchange { border-top: 1px solid #e3e6eb; padding: 6px 0; }
.exchange h3 { font-size: 13px; margin: 4px 0; }
.headers { font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; background: #f4f5f7; padding: 6px; margin: 2px 0 6px; }
.empty { color: #777; padding: 24px; }
</style></head>
<body>
<header><h1>cors-lab compatibility report</h1><p id="meta"></p></header>
<section id="filters">
  <label>group <select id="f-group"><option value="">all</option></select></label>
  <label>browser <select id="f-browser"><option value="">all</option></select></label>
  <label>pin <select id="f-pin"><option value="">all</option></select></label>
  <label><input type="checkbox" id="f-diff"> only differences</label>
  <label><input type="checkbox" id="f-fail"> only failures</label>
  <label><input type="checkbox" id="f-model"> only where the model disagrees</label>
  <span class="legend"><span class="box allowed">A</span>allowed <span class="box blocked">B</span>blocked
    <span class="box error">E</span>error <span class="box timeout">T</span>timeout
    <span class="box unsupported">&ndash;</span>not measurable here (unsupported: not run in that browser, neither pass nor fail)
    <span class="box allowed unexpected">&nbsp;</span>unexpected <span class="box allowed disagrees">&nbsp;</span>model disagrees</span>
  <span id="count"></span>
</section>
<main><div id="wrap"><table id="matrix"><thead></thead><tbody></tbody></table></div>
<aside id="details"><p class="empty">Select a cell to see the requests and responses exchanged, whether a preflight was sent, and what the browser said.</p></aside></main>
<section id="claims" hidden><h2>Claims</h2><table><thead><tr><th>claim</th><th>source</th><th>verdict</th><th>observed</th></tr></thead><tbody></tbody></table></section>
<section id="steps" hidden><h2>Between consecutive pins</h2><p class="note">What each upgrade from one pin to the next
changes: the cells whose outcome differs (pins in the order of the run; see lab/changes.toml for what each release changed).</p>
<div id="step-list"></div></section>
<script type="application/json" id="data">__DATA__</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const LETTER = {allowed: "A", blocked: "B", error: "E", timeout: "T", unsupported: "\u2013"};
// An unsupported cell was not run (its browser cannot do what the case needs): matched is false, yet no failure.
const failed = row => !row.matched && row.outcome !== "unsupported";
const el = (tag, attrs = {}, text) => { const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text); return node; };
// The packed cells (lab/report/packed.py): strings, lists and exchanges stored once, a cell five numbers.
const S = DATA.s, L = DATA.l;
const str = i => i < 0 ? null : S[i];
const pairs = i => { const flat = L[i], out = []; for (let j = 0; j < flat.length; j += 2) out.push([S[flat[j]], S[flat[j + 1]]]); return out; };
const AT = Object.fromEntries(DATA.shape.map(([field], i) => [field, i]));
const DECODE = {s: str, j: i => i < 0 ? null : JSON.parse(S[i]), l: i => L[i].map(j => S[j]), n: i => L[i].map(j => S[j]),
  x: i => L[i].map(j => { const [kind, method, path, request, status, response, failure] = DATA.x[j];
    return {kind: str(kind), method: str(method), path: str(path), request_headers: pairs(request), status,
            response_headers: pairs(response), failure: str(failure)}; })};
const decode = (shape, field) => { const [, kind] = DATA.shape[AT[field]], value = DATA.k[shape][AT[field]];
  return DECODE[kind] ? DECODE[kind](value) : value; };
const cells = new Map();
const cases = [];
const rowCount = DATA.cells.length / 5;
for (let at = 0; at < DATA.cells.length; at += 5) {
  const [c, b, p, shape, ms] = DATA.cells.slice(at, at + 5);
  const [scenario, group, name] = DATA.c[c].map(str);
  const row = {scenario, group, case: name, browser: str(b), pin: str(p), shape, duration_ms: ms,
               outcome: decode(shape, "outcome"), expected: decode(shape, "expected"), matched: decode(shape, "matched"),
               agrees: decode(shape, "agrees"), finding: decode(shape, "finding"), reason: decode(shape, "reason")};
  const key = scenario + "\\u0000" + name;
  if (!cells.has(key)) { cells.set(key, new Map()); cases.push({key, scenario, group: group || "(ungrouped)", name}); }
  cells.get(key).set(row.browser + "\\u0000" + row.pin, row);
}
cases.sort((a, b) => a.scenario.localeCompare(b.scenario) || a.name.localeCompare(b.name));
const browsers = DATA.browsers.map(b => b.name);
const fill = (id, values) => { const select = document.getElementById(id); for (const v of values) select.append(el("option", {value: v}, v)); };
fill("f-group", [...new Set(cases.map(c => c.group))].sort());
fill("f-browser", browsers);
fill("f-pin", DATA.pins);
const env = DATA.environment;
document.getElementById("meta").textContent =
  `${rowCount} cells · browsers: ${DATA.browsers.map(b => b.product + " " + b.version + " (" + b.driver + ")").join(", ")} · `
  + `pins: ${DATA.pins.length} · lab on Python ${env.python}, Playwright ${env.playwright}` + (DATA.complete ? "" : " · INCOMPLETE (interrupted run)");
let selected = null;

function render() {
  const group = document.getElementById("f-group").value, browser = document.getElementById("f-browser").value;
  const pin = document.getElementById("f-pin").value;
  const onlyDiff = document.getElementById("f-diff").checked, onlyFail = document.getElementById("f-fail").checked;
  const onlyModel = document.getElementById("f-model").checked;
  const columns = [];
  for (const b of browsers) if (!browser || b === browser)
    for (const p of DATA.pins) if (!pin || p === pin) columns.push([b, p]);
  const thead = document.querySelector("#matrix thead"), tbody = document.querySelector("#matrix tbody");
  thead.replaceChildren(); tbody.replaceChildren();
  const top = el("tr"), second = el("tr");
  top.append(el("th", {rowspan: "2"}, "scenario / case"));
  for (const b of browsers) { const span = columns.filter(c => c[0] === b).length;
    if (span) top.append(el("th", {colspan: String(span), class: "browser"}, b)); }
  columns.forEach(([, p]) => second.append(el("th", {class: "pin", title: p}, p)));
  thead.append(top, second);
  let shown = 0, lastScenario = null;
  for (const c of cases) {
    if (group && c.group !== group) continue;
    const rows = columns.map(([b, p]) => cells.get(c.key).get(b + "\\u0000" + p));
    const present = rows.filter(Boolean);
    if (!present.length) continue;
    if (onlyDiff && new Set(present.map(r => r.outcome)).size < 2) continue;
    if (onlyFail && !present.some(failed)) continue;
    if (onlyModel && !present.some(r => r.agrees === false)) continue;
    if (c.scenario !== lastScenario) {
      const tr = el("tr", {class: "scenario"}); tr.append(el("td", {colspan: String(columns.length + 1)}, c.scenario));
      tbody.append(tr); lastScenario = c.scenario; }
    const tr = el("tr", {class: "case"});
    tr.append(el("td", {class: "name", title: c.name}, c.name));
    rows.forEach((row, i) => {
      const td = el("td", {class: "cell" + (i === 0 || columns[i][0] !== columns[i - 1][0] ? " first" : "")});
      if (row) {
        const box = el("span", {class: `box ${row.outcome}${failed(row) ? " unexpected" : ""}${row.agrees === false ? " disagrees" : ""}`, role: "button", tabindex: "0",
          title: `${row.browser} · ${row.pin}: ${row.outcome}` + (row.finding ? ` FINDING: ${row.finding}` : failed(row) ? ` (expected ${row.expected})`
                 : row.outcome === "unsupported" ? ` (not measurable here: ${row.reason || "no reason given"})` : "")}, LETTER[row.outcome] || "?");
        box.addEventListener("click", () => show(row, box));
        box.addEventListener("keydown", e => { if (e.key === "Enter") show(row, box); });
        td.append(box);
      }
      tr.append(td);
    });
    tbody.append(tr); shown++;
  }
  document.getElementById("count").textContent = `${shown} cases × ${columns.length} columns`;
}

function headerText(headers) {
  return headers.map(([k, v]) => `${k}: ${v}`).join("\\n");
}

function show(summary, box) {
  if (selected) selected.classList.remove("selected");
  selected = box; box.classList.add("selected");
  const row = {...summary};  // the rest of the cell, decoded now
  for (const [field] of DATA.shape) row[field] = decode(summary.shape, field);
  const panel = document.getElementById("details"); panel.replaceChildren();
  panel.append(el("h2", {}, `${row.scenario} :: ${row.case}`));
  const dl = el("dl");
  const item = (term, value) => { if (value === null || value === undefined || value === "" ) return;
    dl.append(el("dt", {}, term), el("dd", {}, typeof value === "object" ? JSON.stringify(value) : value)); };
  item("browser", row.browser); item("pin", row.pin);
  item("outcome", row.outcome + (row.outcome === "unsupported" ? " (not measured in this browser: neither a pass nor a failure)"
    : row.matched || (row.finding && row.outcome === row.expected) ? " (as expected)" : ` (expected ${row.expected})`));
  item("FINDING", row.finding); item("accepted", row.accepted);
  const space = row.local_network;
  if (space) item("local network", `a ${space.page_space} page${space.secure_page ? "" : " (not a secure context)"} -> a ${space.target_space} server; permission ${space.permission}; Private Network Access preflight sent: ${space.asked_private_network ? "yes" : "no"}`);
  item("status seen by JS", row.status); item("response type", row.response_type);
  item("preflight sent", row.preflight ? "yes" : "no"); item("browser error", row.error);
  item("lab's reason", row.reason); item("headers read", Object.keys(row.read_headers || {}).length ? row.read_headers : null);
  item("readable headers", row.readable_headers.join(", "));
  item("preflights", row.preflights); item("cookie sent", row.cookies_sent ? "yes" : null);
  item("browser's reason", row.browser_reason);
  if (row.duration_ms !== null) item("time", row.duration_ms + " ms");
  panel.append(dl);
  if (row.model) {
    const model = el("div", {class: "model"});
    model.append(el("div", {}, `The Fetch standard says: ${row.model.prediction}: ${row.model.rule}`));
    if (row.model.fix) model.append(el("div", {}, `What to change: ${row.model.fix}`));
    if (row.agrees === false) model.append(el("div", {}, "The browser disagrees with the standard's model here."));
    panel.append(model);
  }
  for (const message of row.console) panel.append(el("div", {class: "headers"}, message));
  if (!row.exchanges.length) panel.append(el("p", {class: "empty"}, "No request reached the server."));
  row.exchanges.forEach((exchange, i) => {
    const box = el("div", {class: "exchange"});
    box.append(el("h3", {}, `${i + 1}. ${exchange.kind}: ${exchange.method} ${exchange.path} → ${exchange.status ?? "no answer"}`));
    box.append(el("div", {}, "request headers the server saw"), el("div", {class: "headers"}, headerText(exchange.request_headers)));
    box.append(el("div", {}, "response headers it sent"), el("div", {class: "headers"}, headerText(exchange.response_headers)));
    if (exchange.failure) box.append(el("div", {class: "headers"}, exchange.failure));
    panel.append(box);
  });
  panel.append(el("p", {class: "note"}, "Left out as noise: the browser's routine request headers (User-Agent, Accept, "
    + "Accept-Language, Accept-Encoding, Connection, Referer, Sec-CH-UA, ...), the Date response header and the lab's "
    + "per-case cors_lab= token in URLs and messages."));
}

if (DATA.claims.length) {
  const section = document.getElementById("claims"); section.hidden = false;
  const body = section.querySelector("tbody");
  for (const claim of DATA.claims) {
    const tr = el("tr");
    tr.append(el("td", {}, claim.text), el("td", {}, claim.source),
              el("td", {class: "verdict-" + claim.verdict}, claim.verdict),
              el("td", {}, `${claim.scenario} :: ${claim.case} (holds if ${claim.holds_if}): ${claim.evidence}`));
    body.append(tr);
  }
}
if (DATA.pinSteps.length) {
  const section = document.getElementById("steps"); section.hidden = false;
  const list = document.getElementById("step-list");
  for (const step of DATA.pinSteps) {
    list.append(el("h3", {}, `${step.old} → ${step.new}: ${step.cells.length} of ${step.compared} cells changed`
                             + (step.differs ? ` (${step.differs})` : "")));
    if (!step.cells.length) continue;
    const table = el("table"); const head = el("tr");
    for (const name of ["scenario", "case", "browser", "before", "after"]) head.append(el("th", {}, name));
    table.append(head);
    for (const cell of step.cells) {
      const tr = el("tr");
      tr.append(el("td", {}, cell.scenario), el("td", {}, cell.case), el("td", {}, cell.browser),
                el("td", {}, cell.before), el("td", {}, cell.after));
      table.append(tr);
    }
    list.append(table);
  }
}
for (const id of ["f-group", "f-browser", "f-pin", "f-diff", "f-fail", "f-model"]) document.getElementById(id).addEventListener("change", render);
render();
</script>
</body></html>
"""
