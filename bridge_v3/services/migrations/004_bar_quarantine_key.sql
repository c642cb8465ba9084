-- A bad bar inside the re-fetched overlap was inserted again at every cycle (about 20,000
-- rows per series over a weekend). From now on one row per series, bar time and reason:
-- seen_at is the first sighting, last_seen_at the latest.
ALTER TABLE bar_quarantine ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();

UPDATE bar_quarantine q
SET last_seen_at = g.last_seen
FROM (
    SELECT min(id) AS first_id, max(seen_at) AS last_seen
    FROM bar_quarantine
    GROUP BY account, symbol, timeframe, time, reason
) g
WHERE q.id = g.first_id;

DELETE FROM bar_quarantine q
USING bar_quarantine o
WHERE q.account = o.account AND q.symbol = o.symbol AND q.timeframe = o.timeframe
  AND q.time = o.time AND q.reason = o.reason AND q.id > o.id;

CREATE UNIQUE INDEX bar_quarantine_key
    ON bar_quarantine (account, symbol, timeframe, time, reason);
