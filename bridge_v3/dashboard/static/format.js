// Formatting for the dashboard page: UTC times, numbers, ages, and a small element builder.

const pad = (n) => String(n).padStart(2, "0");
export function utc(value) {
  if (value === null || value === undefined || value === "") return "";
  const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (isNaN(d)) return String(value);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
// Times of the day of nowSeconds as the time of day only; older ones in full.
export function recent(value, nowSeconds) {
  const full = utc(value);
  return full.slice(0, 10) === utc(nowSeconds).slice(0, 10) ? full.slice(11) : full;
}
export function num(value, digits) {
  if (value === null || value === undefined) return "";
  const n = Number(value);
  if (!isFinite(n)) return String(value);
  return digits === undefined ? String(+n.toPrecision(10)) : n.toFixed(digits);
}
export function age(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}
export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
