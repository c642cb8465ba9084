// The dashboard page: loads every panel from /api/snapshot, then follows /events (server-sent
// events) and changes only what an event touches. After any break (the stream, PostgreSQL or
// Redis coming back) it loads the snapshot again, so it recovers without a reload.
import { el, num, utc } from "./format.js";
import { bridgeCard } from "./health.js";
import { table } from "./tables.js";

(function () {
  const LWC = window.LightweightCharts;
  const params = new URLSearchParams(window.location.search);
  const state = {
    account: params.get("account") ? Number(params.get("account")) : null,
    symbol: params.get("symbol"),
    timeframe: params.get("timeframe"),
    config: { late_after: 15, max_daily_loss_pct: null, max_positions: null },
    offsetMs: 0, // dashboard server clock minus this browser's clock
    bridges: {},
    services: {},
    risk: null,
    openPositions: null,
    range: "today",
    equity: { today: [], days: [] },
    bars: [],
    markers: [],
    stream: null,
    streamBroken: false,
    loading: null,
  };
  const $ = (id) => document.getElementById(id);
  const serverNow = () => Date.now() + state.offsetMs;

  // -- charts -----------------------------------------------------------------------------

  const chartOptions = {
    autoSize: true,
    layout: { background: { color: "#ffffff" }, textColor: "#1d2330", attributionLogo: true },
    grid: { vertLines: { color: "#f0f2f5" }, horzLines: { color: "#f0f2f5" } },
    timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { borderVisible: false },
  };
  const market = LWC.createChart($("market-chart"), chartOptions);
  const candles = market.addSeries(LWC.CandlestickSeries, {
    upColor: "#1b873f", downColor: "#c62828", borderVisible: false,
    wickUpColor: "#1b873f", wickDownColor: "#c62828",
  });
  const candleMarkers = LWC.createSeriesMarkers(candles, []);
  const equityChart = LWC.createChart($("equity-chart"), chartOptions);
  const equityLine = equityChart.addSeries(LWC.LineSeries, { color: "#1565c0", lineWidth: 2, title: "equity" });
  const balanceLine = equityChart.addSeries(LWC.LineSeries, { color: "#9e9e9e", lineWidth: 1, title: "balance" });

  // One point per whole second, oldest first: what the chart library accepts.
  function linePoints(rows, key) {
    const byTime = new Map();
    for (const row of rows) {
      if (row[key] !== null && row[key] !== undefined) byTime.set(Math.floor(row.time), Number(row[key]));
    }
    return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value }));
  }

  // -- panels -----------------------------------------------------------------------------

  function panelError(id, result) {
    const panel = $(id);
    const box = panel.querySelector(".panel-error");
    const failed = result && result.ok === false;
    box.hidden = !failed;
    box.textContent = failed ? `Not updated: ${result.error}` : "";
    panel.classList.toggle("stale", failed);
    return !failed;
  }

  function renderMarket(result) {
    if (!panelError("market-panel", result) || result.empty) return;
    const select = $("series");
    select.replaceChildren(...result.series.map((s) => {
      const option = el("option", { value: `${s.symbol}|${s.timeframe}` }, `${s.symbol} ${s.timeframe}`);
      option.selected = s.symbol === result.symbol && s.timeframe === result.timeframe;
      return option;
    }));
    state.symbol = result.symbol;
    state.timeframe = result.timeframe;
    state.bars = result.bars.map((b) => ({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close }));
    candles.setData(state.bars);
    state.markers = result.markers.map(markerOf).filter(Boolean);
    showMarkers();
    showLastBar();
  }

  function showLastBar() {
    const last = state.bars[state.bars.length - 1];
    const label = $("market-last");
    label.dataset.time = last ? String(last.time) : "";
    label.dataset.count = String(state.bars.length);
    label.textContent = last ? `last closed bar ${utc(last.time)}, close ${num(last.close)}` : "no bars stored yet";
  }

  function markerOf(m) {
    if (m.bar_time === undefined) return null;
    if (m.kind === "signal") {
      const buy = m.side === "buy";
      return { time: m.bar_time, position: buy ? "belowBar" : "aboveBar", color: "#1565c0",
               shape: "circle", text: `${m.strategy || "signal"} ${m.side || ""}`.trim() };
    }
    const buy = m.side === "buy";
    return { time: m.bar_time, position: buy ? "belowBar" : "aboveBar", color: buy ? "#1b873f" : "#c62828",
             shape: buy ? "arrowUp" : "arrowDown", text: `${m.side.toUpperCase()} ${num(m.volume)}` };
  }

  function onBar(bar) {
    if (state.symbol === null) { loadSnapshot(); return; } // the first bars of an empty database
    if (bar.symbol !== state.symbol || bar.timeframe !== state.timeframe) return;
    const last = state.bars[state.bars.length - 1];
    const candle = { time: bar.time, open: bar.open, high: bar.high, low: bar.low, close: bar.close };
    if (last && bar.time < last.time) { // a bar the broker corrected after it was published
      const index = state.bars.findIndex((b) => b.time === bar.time);
      if (index >= 0) {
        state.bars[index] = candle;
        candles.setData(state.bars);
      }
      return;
    }
    if (last && last.time === bar.time) state.bars[state.bars.length - 1] = candle;
    else state.bars.push(candle);
    candles.update(candle);
    showLastBar();
  }

  function onMarker(m) {
    if (m.symbol !== state.symbol) return;
    if (m.kind === "signal" && m.timeframe && m.timeframe !== state.timeframe) return;
    const times = state.bars.map((b) => b.time);
    let index = times.length - 1;
    while (index >= 0 && times[index] > m.time) index -= 1;
    if (index < 0) return;
    const marker = markerOf({ ...m, bar_time: times[index] });
    state.markers = [...state.markers, marker].sort((a, b) => a.time - b.time);
    showMarkers();
  }

  function showMarkers() {
    candleMarkers.setMarkers(state.markers);
    $("market-chart").dataset.markers = String(state.markers.length); // what the canvas shows
  }

  function renderAccount(result) {
    if (!panelError("account-panel", result) || result.empty) return;
    state.equity = { today: result.today, days: result.days };
    drawEquity();
  }

  function drawEquity() {
    const rows = state.equity[state.range] || [];
    equityLine.setData(linePoints(rows, "equity"));
    balanceLine.setData(linePoints(rows, "balance"));
    equityChart.timeScale().fitContent();
    const last = rows[rows.length - 1];
    $("account-figures").textContent = last
      ? `equity ${num(last.equity, 2)}  balance ${num(last.balance, 2)}  at ${utc(last.time)}`
      : "no account snapshot in this range";
  }

  function onAccount(point) {
    state.equity.today.push(point);
    if (state.range !== "today") return;
    const time = Math.floor(point.time);
    const last = equityLine.data().slice(-1)[0];
    if (last && time < last.time) return;
    equityLine.update({ time, value: Number(point.equity) });
    balanceLine.update({ time, value: Number(point.balance) });
    $("account-figures").textContent = `equity ${num(point.equity, 2)}  balance ${num(point.balance, 2)}  at ${utc(point.time)}`;
  }

  function renderRisk(result) {
    if (!panelError("risk-panel", result) || result.empty) return;
    state.risk = result.state ? { ...result.state } : null;
    const list = $("risk-events");
    list.replaceChildren(...(result.events || []).map((e) => el("li", {},
      `${utc(e.time)} ${e.kind}${e.state ? " " + e.state : ""}${e.reason ? ": " + e.reason : ""}` +
      `${e.acknowledged_by ? " (by " + e.acknowledged_by + ")" : ""}`)));
    drawRisk();
  }

  function onRisk(message) {
    state.risk = { ...(state.risk || {}), ...message.data };
    drawRisk();
  }

  function drawRisk() {
    const risk = state.risk || {};
    const limits = risk.limits || {};
    const stateEl = $("risk-state");
    stateEl.textContent = risk.state || "no check yet";
    stateEl.dataset.state = risk.state || "";
    $("risk-since").textContent = risk.since ? `since ${utc(risk.since)}` : "";
    $("risk-reason").textContent = risk.reason || (risk.state ? "" : "The bridge has not recorded a risk check.");
    const limit = limits.max_daily_loss_pct ?? state.config.max_daily_loss_pct;
    const loss = risk.daily_loss_pct;
    const reducing = limit && limits.reducing_at_pct ? limit * limits.reducing_at_pct / 100 : null;
    gauge("loss-gauge", loss, limit, reducing);
    $("loss-text").textContent = loss === undefined || loss === null ? `– of ${num(limit)} %` : `${num(loss, 2)} % of ${num(limit)} %`;
    const open = state.openPositions ?? risk.open_positions; // the mirror's table is the freshest
    const most = limits.max_positions ?? state.config.max_positions;
    gauge("positions-gauge", open, most, null);
    $("positions-text").textContent = open === null || open === undefined ? `– of ${most}` : `${open} of ${most}`;
  }

  function gauge(id, value, limit, tick) {
    const node = $(id);
    const share = limit && value !== null && value !== undefined ? Math.max(0, Math.min(1, value / limit)) : 0;
    node.querySelector(".fill").style.width = `${(share * 100).toFixed(1)}%`;
    node.dataset.level = share >= 1 ? "bad" : (tick && value >= tick) || share >= 0.8 ? "warn" : "ok";
    const mark = node.querySelector(".tick");
    if (mark) {
      mark.hidden = !tick;
      if (tick) mark.style.left = `${Math.min(100, (tick / limit) * 100).toFixed(1)}%`;
    }
  }

  function renderTrading(result) {
    if (!panelError("trading-panel", result) || result.empty) return;
    const now = serverNow() / 1000;
    table("positions", result.positions, "no open position", now);
    table("orders", result.orders, "no pending order", now);
    table("deals", result.deals, "no deal yet", now);
    table("signals", result.signals, "no signal yet (no strategy enabled, or none has signalled)", now);
    table("intents", result.intents, "no order intent yet", now);
    const floating = result.positions.reduce((sum, p) => sum + (Number(p.profit) || 0), 0);
    $("floating").textContent = result.positions.length ? `floating ${num(floating, 2)}` : "";
    state.openPositions = result.positions.length;
    drawRisk();
  }

  function renderQuality(result) {
    if (!panelError("quality-panel", result) || result.empty) return;
    table("quality", result.series, "no series stored yet", serverNow() / 1000);
  }

  const RENDER = { market: renderMarket, account: renderAccount, risk: renderRisk, trading: renderTrading, quality: renderQuality };

  function renderHealth() {
    const beats = Object.values(state.bridges).sort((a, b) => a.source.localeCompare(b.source));
    const strip = $("health");
    if (!beats.length) {
      strip.replaceChildren(el("p", { class: "empty" }, "No heartbeat seen yet."));
      return;
    }
    strip.replaceChildren(...beats.map((beat) => bridgeCard(beat, serverNow(), state.config.late_after)));
  }

  function setBridges(list) {
    state.bridges = {};
    for (const beat of list || []) state.bridges[beat.source] = beat;
    renderHealth();
  }

  function onStatus(beat) {
    if (beat.server_time_ms) state.offsetMs = beat.server_time_ms - Date.now();
    state.bridges[beat.source] = beat;
    renderHealth();
    const risk = beat.data && beat.data.risk;
    if (risk && typeof risk === "object" && beat.account === state.account && risk.state) {
      state.risk = { ...(state.risk || {}), ...risk };
      drawRisk();
    }
  }

  // -- services ---------------------------------------------------------------------------

  function setService(name, up, title) {
    const badge = $(`svc-${name}`);
    badge.dataset.state = up === null || up === undefined ? "unknown" : up ? "up" : "down";
    badge.title = title || "";
  }

  function renderServices(services) {
    state.services = services || {};
    const notes = [];
    for (const [name, label] of [["postgres", "PostgreSQL"], ["redis", "Redis"]]) {
      const s = state.services[name] || {};
      setService(name, s.ok, s.error || "");
      if (s.ok === false) notes.push(`${label} unreachable since ${utc(s.since)} (${s.error})`);
    }
    if (state.streamBroken) notes.unshift("Live updates interrupted: reconnecting to the dashboard");
    const banner = $("outage");
    banner.hidden = !notes.length;
    banner.textContent = notes.join(" · ");
  }

  // -- loading and following --------------------------------------------------------------

  function snapshotUrl() {
    const q = new URLSearchParams();
    if (state.account !== null) q.set("account", state.account);
    if (state.symbol) q.set("symbol", state.symbol);
    if (state.timeframe) q.set("timeframe", state.timeframe);
    return `/api/snapshot?${q}`;
  }

  async function loadSnapshot() {
    if (state.loading) return state.loading;
    state.loading = (async () => {
      try {
        const response = await fetch(snapshotUrl(), { cache: "no-store" });
        if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
        applySnapshot(await response.json());
      } catch (error) {
        state.streamBroken = true;
        renderServices(state.services);
      } finally {
        state.loading = null;
      }
    })();
    return state.loading;
  }

  function applySnapshot(s) {
    state.offsetMs = s.server_time_ms - Date.now();
    state.config = s.config;
    const changed = state.account !== s.account;
    state.account = s.account;
    const select = $("account");
    select.replaceChildren(...s.accounts.map((a) => {
      const option = el("option", { value: String(a) }, String(a));
      option.selected = a === s.account;
      return option;
    }));
    renderServices(s.services);
    setBridges(s.bridges);
    for (const [name, result] of Object.entries(s.panels)) RENDER[name](result);
    if (changed || !state.stream) openStream();
  }

  function openStream() {
    if (state.stream) state.stream.close();
    const stream = new EventSource(state.account !== null ? `/events?account=${state.account}` : "/events");
    state.stream = stream;
    stream.addEventListener("hello", (e) => {
      const hello = JSON.parse(e.data);
      state.offsetMs = hello.server_time_ms - Date.now();
      setService("live", true, "following the bridge live");
      const wasBroken = state.streamBroken;
      state.streamBroken = false;
      renderServices(hello.services);
      setBridges(hello.bridges);
      if (wasBroken) loadSnapshot(); // events may have been missed while the stream was down
    });
    const on = (kind, handler) => stream.addEventListener(kind, (e) => handler(JSON.parse(e.data)));
    on("status", onStatus);
    on("services", renderServices);
    on("bar", onBar);
    on("account", onAccount);
    on("risk", onRisk);
    on("marker", onMarker);
    on("panel", (p) => { if (p.account === state.account) RENDER[p.name](p.data); });
    on("resync", () => loadSnapshot());
    stream.onerror = () => {
      state.streamBroken = true;
      setService("live", false, "reconnecting");
      renderServices(state.services);
    };
  }

  // -- controls ---------------------------------------------------------------------------

  function remember() {
    const q = new URLSearchParams();
    if (state.account !== null) q.set("account", state.account);
    if (state.symbol) q.set("symbol", state.symbol);
    if (state.timeframe) q.set("timeframe", state.timeframe);
    window.history.replaceState(null, "", `?${q}`);
  }

  $("series").addEventListener("change", (e) => {
    [state.symbol, state.timeframe] = e.target.value.split("|");
    remember();
    loadSnapshot();
  });
  $("account").addEventListener("change", (e) => {
    state.account = Number(e.target.value);
    state.symbol = state.timeframe = null;
    remember();
    loadSnapshot().then(openStream);
  });
  for (const button of document.querySelectorAll(".switch button")) {
    button.addEventListener("click", () => {
      state.range = button.dataset.range;
      for (const b of document.querySelectorAll(".switch button")) b.setAttribute("aria-pressed", String(b === button));
      drawEquity();
    });
  }

  window.setInterval(renderHealth, 1000); // heartbeat ages move even when nothing arrives
  loadSnapshot();
})();
