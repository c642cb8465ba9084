-- Analytics for the Linux side: views over deals, account_snapshots and daily_performance.
-- Days are UTC calendar days of the closing deal (trades) or of the snapshot (equity).
-- Deal codes (MT5 contract): type 0 buy, 1 sell (others are balance operations);
-- entry 0 in, 1 out, 2 in/out (a netting reversal), 3 out by an opposite position.

-- One row per closed position (a trade): all its deals summed. A position is closed when
-- its exit volume covers its entry volume; net_profit = profit + commission + swap + fee of
-- every deal of the position (entry commissions belong to the trade).
CREATE VIEW trades AS
WITH per_position AS (
    SELECT account,
           position_id,
           min(symbol)                                            AS symbol,
           coalesce(min(magic) FILTER (WHERE entry = 0), min(magic), 0) AS magic,
           min(type) FILTER (WHERE entry = 0)                     AS entry_type,
           min(time) FILTER (WHERE entry = 0)                     AS opened_at,
           max(time) FILTER (WHERE entry IN (1, 3))               AS closed_at,
           sum(volume) FILTER (WHERE entry = 0)                   AS volume_in,
           coalesce(sum(volume) FILTER (WHERE entry IN (1, 3)), 0) AS volume_out,
           sum(coalesce(profit, 0))                               AS profit,
           sum(coalesce(commission, 0))                           AS commission,
           sum(coalesce(swap, 0))                                 AS swap,
           sum(coalesce(fee, 0))                                  AS fee,
           count(*)                                               AS deals
    FROM deals
    WHERE type IN (0, 1) AND coalesce(position_id, 0) <> 0
    GROUP BY account, position_id
)
SELECT account,
       position_id,
       symbol,
       magic,
       CASE entry_type WHEN 0 THEN 'buy' WHEN 1 THEN 'sell' END AS side,
       coalesce(volume_in, volume_out)                            AS volume,
       opened_at,
       closed_at,
       (closed_at AT TIME ZONE 'UTC')::date                       AS day,
       profit,
       commission,
       swap,
       fee,
       profit + commission + swap + fee                           AS net_profit,
       deals
FROM per_position
WHERE closed_at IS NOT NULL
  AND volume_out >= coalesce(volume_in, volume_out) - 1e-9;

-- Each trade with the drawdown of the closed-trade P&L curve it belongs to, for every way
-- trade_stats groups trades (the curve starts at 0 and runs in closing order).
CREATE VIEW trade_curves AS
WITH cumulative AS (
    SELECT t.*,
           sum(net_profit) OVER (PARTITION BY account ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING) AS cum_account,
           sum(net_profit) OVER (PARTITION BY account, magic ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING) AS cum_strategy,
           sum(net_profit) OVER (PARTITION BY account, symbol ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING) AS cum_symbol,
           sum(net_profit) OVER (PARTITION BY account, day ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING) AS cum_day,
           sum(net_profit) OVER (PARTITION BY account, magic, day ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING) AS cum_strategy_day,
           sum(net_profit) OVER (PARTITION BY account, symbol, day ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING) AS cum_symbol_day,
           sum(net_profit) OVER (PARTITION BY account, magic, symbol, day ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING) AS cum_strategy_symbol_day
    FROM trades t
)
SELECT c.*,
       greatest(0, max(cum_account) OVER (PARTITION BY account ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING)) - cum_account AS dd_account,
       greatest(0, max(cum_strategy) OVER (PARTITION BY account, magic ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING)) - cum_strategy AS dd_strategy,
       greatest(0, max(cum_symbol) OVER (PARTITION BY account, symbol ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING)) - cum_symbol AS dd_symbol,
       greatest(0, max(cum_day) OVER (PARTITION BY account, day ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING)) - cum_day AS dd_day,
       greatest(0, max(cum_strategy_day) OVER (PARTITION BY account, magic, day ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING)) - cum_strategy_day AS dd_strategy_day,
       greatest(0, max(cum_symbol_day) OVER (PARTITION BY account, symbol, day ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING)) - cum_symbol_day AS dd_symbol_day,
       greatest(0, max(cum_strategy_symbol_day) OVER (PARTITION BY account, magic, symbol, day ORDER BY closed_at, position_id ROWS UNBOUNDED PRECEDING)) - cum_strategy_symbol_day AS dd_strategy_symbol_day
FROM cumulative c;

-- Trade statistics at every level. `level` names the grouping; the columns it does not
-- group by are NULL: 'account' (all trades), 'strategy' (magic), 'symbol', 'day',
-- 'strategy_day', 'symbol_day', 'strategy_symbol_day'. Won/lost count trades with
-- net_profit > 0 / < 0 (a trade at exactly 0 counts in trades only). gross_loss and
-- avg_loss are negative; profit_factor is NULL without a losing trade; max_drawdown is on
-- the closed-trade P&L curve of the group (account equity drawdown: daily_equity).
CREATE VIEW trade_stats AS
SELECT CASE GROUPING(magic, symbol, day)
           WHEN 7 THEN 'account'
           WHEN 3 THEN 'strategy'
           WHEN 5 THEN 'symbol'
           WHEN 6 THEN 'day'
           WHEN 2 THEN 'strategy_day'
           WHEN 4 THEN 'symbol_day'
           ELSE 'strategy_symbol_day'
       END                                                        AS level,
       account,
       magic,
       symbol,
       day,
       count(*)                                                   AS trades,
       count(*) FILTER (WHERE net_profit > 0)                     AS won,
       count(*) FILTER (WHERE net_profit < 0)                     AS lost,
       count(*) FILTER (WHERE net_profit > 0)::double precision / count(*) AS win_rate,
       coalesce(sum(net_profit) FILTER (WHERE net_profit > 0), 0) AS gross_profit,
       coalesce(sum(net_profit) FILTER (WHERE net_profit < 0), 0) AS gross_loss,
       sum(net_profit) FILTER (WHERE net_profit > 0)
           / nullif(-sum(net_profit) FILTER (WHERE net_profit < 0), 0) AS profit_factor,
       avg(net_profit) FILTER (WHERE net_profit > 0)              AS avg_win,
       avg(net_profit) FILTER (WHERE net_profit < 0)              AS avg_loss,
       sum(net_profit)                                            AS net_profit,
       sum(net_profit) / count(*)                                 AS expectancy,
       CASE GROUPING(magic, symbol, day)
           WHEN 7 THEN max(dd_account)
           WHEN 3 THEN max(dd_strategy)
           WHEN 5 THEN max(dd_symbol)
           WHEN 6 THEN max(dd_day)
           WHEN 2 THEN max(dd_strategy_day)
           WHEN 4 THEN max(dd_symbol_day)
           ELSE max(dd_strategy_symbol_day)
       END                                                        AS max_drawdown,
       sum(commission)                                            AS commission,
       sum(swap)                                                  AS swap,
       sum(fee)                                                   AS fee,
       sum(volume)                                                AS volume
FROM trade_curves
GROUP BY GROUPING SETS (
    (account),
    (account, magic),
    (account, symbol),
    (account, day),
    (account, magic, day),
    (account, symbol, day),
    (account, magic, symbol, day)
);

-- Every account snapshot with the running peak of equity and the drawdown from it.
CREATE VIEW equity_curve AS
SELECT account,
       time,
       balance,
       equity,
       max(equity) OVER w                                         AS peak_equity,
       max(equity) OVER w - equity                                AS drawdown,
       100 * (max(equity) OVER w - equity) / nullif(max(equity) OVER w, 0) AS drawdown_pct
FROM account_snapshots
WINDOW w AS (PARTITION BY account ORDER BY time ROWS UNBOUNDED PRECEDING);

-- Equity per UTC day: first, last, lowest, highest, and the deepest drawdown that day
-- (from the highest equity seen up to then, that day or before).
CREATE VIEW daily_equity AS
SELECT account,
       (time AT TIME ZONE 'UTC')::date                            AS day,
       (array_agg(equity ORDER BY time))[1]                       AS open_equity,
       (array_agg(equity ORDER BY time DESC))[1]                  AS close_equity,
       (array_agg(balance ORDER BY time DESC))[1]                 AS close_balance,
       min(equity)                                                AS min_equity,
       max(equity)                                                AS max_equity,
       max(drawdown)                                              AS max_drawdown,
       max(drawdown_pct)                                          AS max_drawdown_pct,
       count(*)                                                   AS snapshots
FROM equity_curve
GROUP BY account, (time AT TIME ZONE 'UTC')::date;

-- One row per account and UTC day with trading or snapshots: realised P&L of the day's
-- deals (profit + commission + swap + fee, by deal time), the day's equity, and the
-- bridge's own daily_performance row of that date when there is one.
CREATE VIEW daily_pnl AS
WITH realized AS (
    SELECT account,
           (time AT TIME ZONE 'UTC')::date                        AS day,
           sum(coalesce(profit, 0) + coalesce(commission, 0) + coalesce(swap, 0) + coalesce(fee, 0)) AS realized_pnl,
           sum(coalesce(commission, 0))                           AS commission,
           sum(coalesce(swap, 0))                                 AS swap,
           count(*)                                               AS deals
    FROM deals
    WHERE type IN (0, 1)
    GROUP BY account, (time AT TIME ZONE 'UTC')::date
)
SELECT account,
       day,
       coalesce(r.realized_pnl, 0)                                AS realized_pnl,
       coalesce(r.commission, 0)                                  AS commission,
       coalesce(r.swap, 0)                                        AS swap,
       coalesce(r.deals, 0)                                       AS deals,
       e.open_equity,
       e.close_equity,
       e.min_equity,
       e.max_equity,
       e.max_drawdown,
       e.max_drawdown_pct,
       p.starting_balance,
       p.ending_balance,
       p.halted
FROM realized r
FULL JOIN daily_equity e USING (account, day)
LEFT JOIN daily_performance p USING (account, day);
