// The health strip's cards: one per bridge, from its newest heartbeat and when it arrived.

import { age, el } from "./format.js";

// late: no heartbeat for longer than lateAfter seconds; down: a part failed or the
// bridge said it stopped.
export function verdict(beat, nowMs, lateAfter) {
  const ageSeconds = (nowMs - beat.received_ms) / 1000;
  const d = beat.data || {};
  const problems = [];
  if (ageSeconds > lateAfter) problems.push(`no heartbeat for ${age(ageSeconds)}`);
  if (d.state && d.state !== "running") problems.push(`bridge ${d.state}`);
  if (d.terminal && d.terminal.connected === false) problems.push("terminal disconnected");
  if (d.postgres === false) problems.push("PostgreSQL down");
  if (d.redis === false) problems.push("Redis down");
  if (d.clock && d.clock.trusted === false) problems.push("broker clock not trusted");
  const dependencies = d.dependencies && typeof d.dependencies === "object" ? d.dependencies : {};
  for (const [name, dependency] of Object.entries(dependencies)) {
    if (dependency && dependency.state === "down") problems.push(`${name} down (${dependency.last_error || "no answer"})`);
  }
  const health = ageSeconds > lateAfter ? "late" : problems.length ? "down" : "ok";
  return { ageSeconds, problems, health };
}

// ok: true, false, or undefined when the heartbeat does not say.
function part(label, ok) {
  const mark = ok === false ? "✗" : ok === undefined || ok === null ? "?" : "✓";
  return el("span", { class: ok === false ? "part bad" : "part" }, `${label} ${mark}`);
}

export function bridgeCard(beat, nowMs, lateAfter) {
  const d = beat.data || {};
  const v = verdict(beat, nowMs, lateAfter);
  const card = el("article", { class: "bridge", "data-source": beat.source, "data-health": v.health });
  card.append(el("span", { class: "verdict" }, v.health === "ok" ? "OK" : v.health === "late" ? "LATE" : "PROBLEM"));
  card.append(el("div", { class: "name" }, `${beat.source} · ${beat.account ?? "no account"}`));
  card.append(el("div", { class: "age" }, `${d.state || "?"}, heartbeat ${age(v.ageSeconds)} ago` +
    (v.problems.length ? ` — ${v.problems.join(", ")}` : "")));
  const parts = el("div", { class: "parts" });
  parts.append(part("terminal", d.terminal ? d.terminal.connected : undefined), part("PostgreSQL", d.postgres),
    part("Redis", d.redis), part("clock", d.clock ? d.clock.trusted : undefined));
  if (d.dependencies && d.dependencies.outbox) parts.append(part("outbox", d.dependencies.outbox.state !== "down"));
  if (d.trading && d.trading.enabled === false) parts.append(part("trading", false));
  card.append(parts);
  const w = d.worker || {};
  card.append(el("div", { class: "counters" },
    `outbox ${d.outbox_pending ?? "?"} · worker active ${w.active ?? "?"}, queued ${w.queued ?? "?"}, ` +
    `done ${w.completed ?? "?"}, failed ${w.failed ?? "?"}, timed out ${w.timed_out ?? "?"}, skipped ${w.skipped ?? "?"}`));
  return card;
}
