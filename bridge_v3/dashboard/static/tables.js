// The tables of the Positions and orders and Data quality panels: which columns, and how
// each kind of value is shown.

import { age, el, num, recent, utc } from "./format.js";

const COLUMNS = {
  positions: [["ticket"], ["symbol"], ["type"], ["volume", "num"], ["price_open", "num", "open"],
    ["price_current", "num", "current"], ["sl", "num"], ["tp", "num"], ["swap", "num"], ["profit", "pnl"]],
  orders: [["ticket"], ["symbol"], ["type"], ["volume", "num"], ["price_open", "num", "price"],
    ["sl", "num"], ["tp", "num"], ["time_setup", "time", "placed"], ["time_expiration", "time", "expires"]],
  deals: [["time", "time"], ["ticket"], ["symbol"], ["type"], ["entry"], ["volume", "num"],
    ["price", "num"], ["profit", "pnl"], ["commission", "num"], ["swap", "num"]],
  signals: [["time", "time"], ["strategy"], ["symbol"], ["timeframe", "", "tf"], ["side"],
    ["price", "num"], ["mode"], ["reason"]],
  intents: [["created_at", "time", "created"], ["intent_id", "", "intent"], ["strategy"], ["symbol"],
    ["type"], ["volume", "num"], ["status"], ["retcode"], ["error"]],
  quality: [["symbol"], ["timeframe", "", "tf"], ["last_time", "clock", "last bar"],
    ["lag_seconds", "lag", "lag"], ["quarantined_today", "num", "quarantined today"]],
};

export function table(id, rows, empty, nowSeconds) {
  const columns = COLUMNS[id];
  const head = el("tr");
  for (const [key, , label] of columns) head.append(el("th", {}, label || key.replace(/_/g, " ")));
  const body = rows.map((row) => {
    const tr = el("tr");
    for (const [key, kind] of columns) tr.append(cell(row, key, kind, nowSeconds));
    return tr;
  });
  if (!rows.length) {
    const tr = el("tr", { class: "none" });
    tr.append(el("td", { colspan: String(columns.length) }, empty));
    body.push(tr);
  }
  const target = document.getElementById(id);
  target.replaceChildren(el("thead"), el("tbody"));
  target.tHead.append(head);
  target.tBodies[0].append(...body);
}

function cell(row, key, kind, nowSeconds) {
  const value = row[key];
  if (kind === "time") return el("td", {}, utc(value));
  if (kind === "clock") return el("td", {}, recent(value, nowSeconds));
  if (kind === "num") return el("td", { class: "num" }, num(value));
  if (kind === "pnl") return el("td", { class: `num ${value > 0 ? "pos" : value < 0 ? "neg" : ""}` }, num(value, 2));
  if (kind === "lag") {
    const late = value !== null && row.seconds && value > 3 * row.seconds;
    return el("td", { class: `num${late ? " lagging" : ""}` }, age(value));
  }
  return el("td", {}, value === null || value === undefined ? "" : String(value));
}
