-- The bridge's initial schema. Times are timestamptz (UTC inside the bridge); every row that
-- comes from MT5 keeps the account login so several bridges can share one database.
-- schema_migrations itself is created by the migration runner before this file runs.

-- Closed bars; natural key (account, symbol, timeframe, time = bar open time in UTC).
CREATE TABLE bars (
    account      bigint           NOT NULL,
    symbol       text             NOT NULL,
    timeframe    text             NOT NULL,
    time         timestamptz      NOT NULL,
    open         double precision NOT NULL,
    high         double precision NOT NULL,
    low          double precision NOT NULL,
    close        double precision NOT NULL,
    tick_volume  bigint           NOT NULL DEFAULT 0,
    spread       integer          NOT NULL DEFAULT 0,
    real_volume  bigint           NOT NULL DEFAULT 0,
    inserted_at  timestamptz      NOT NULL DEFAULT now(),
    updated_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, symbol, timeframe, time)
);

-- The last closed bar stored per series: incremental fetches and gap fill start here.
CREATE TABLE bar_watermarks (
    account     bigint      NOT NULL,
    symbol      text        NOT NULL,
    timeframe   text        NOT NULL,
    last_time   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, symbol, timeframe)
);

-- Bars that failed validation, kept with the reason and the row as received.
CREATE TABLE bar_quarantine (
    id         bigserial   PRIMARY KEY,
    account    bigint      NOT NULL,
    symbol     text        NOT NULL,
    timeframe  text        NOT NULL,
    time       timestamptz,
    reason     text        NOT NULL,
    payload    jsonb,
    seen_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bar_quarantine_series_idx ON bar_quarantine (account, symbol, timeframe, seen_at);

-- Ticks, partitioned by month of `time`. ordinal = index among ticks sharing one time_msc, so
-- identical-millisecond ticks are all kept and replays still hit the same key.
CREATE TABLE ticks (
    account      bigint           NOT NULL,
    symbol       text             NOT NULL,
    time         timestamptz      NOT NULL,
    time_msc     bigint           NOT NULL,
    ordinal      smallint         NOT NULL DEFAULT 0,
    bid          double precision,
    ask          double precision,
    last         double precision,
    volume       bigint,
    flags        integer,
    volume_real  double precision,
    PRIMARY KEY (account, symbol, time, ordinal)
) PARTITION BY RANGE (time);

-- Catches ticks of months whose partition was not created yet; ensure_tick_partition moves
-- them out when the month's partition appears.
CREATE TABLE ticks_default PARTITION OF ticks DEFAULT;

-- Creates the partition ticks_YYYYMM holding the UTC month that contains `at` (if missing),
-- moving any rows of that month out of ticks_default first. Returns the partition's name.
CREATE FUNCTION ensure_tick_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    lo   timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    hi   timestamptz := lo + interval '1 month';
    part text := 'ticks_' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN part;
    END IF;
    -- Serialise creators: two sessions racing on the same month would both try to create it.
    PERFORM pg_advisory_xact_lock(hashtext('bridge_v3.ensure_tick_partition'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN part;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE ticks INCLUDING DEFAULTS)', part);
    EXECUTE format(
        'WITH moved AS (DELETE FROM ticks_default WHERE time >= $1 AND time < $2 RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
    EXECUTE format('ALTER TABLE ticks ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part, lo, hi);
    RETURN part;
END;
$$;

CREATE TABLE tick_watermarks (
    account        bigint      NOT NULL,
    symbol         text        NOT NULL,
    last_time_msc  bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, symbol)
);

-- Symbol specifications as the terminal reports them (SymbolInfo).
CREATE TABLE symbols (
    account           bigint           NOT NULL,
    symbol            text             NOT NULL,
    description       text,
    path              text,
    digits            integer,
    point             double precision,
    contract_size     double precision,
    tick_size         double precision,
    tick_value        double precision,
    currency_base     text,
    currency_profit   text,
    currency_margin   text,
    volume_min        double precision,
    volume_max        double precision,
    volume_step       double precision,
    trade_mode        integer,
    filling_mode      integer,
    updated_at        timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, symbol)
);

CREATE TABLE account_snapshots (
    account       bigint           NOT NULL,
    time          timestamptz      NOT NULL,
    balance       double precision,
    equity        double precision,
    margin        double precision,
    margin_free   double precision,
    margin_level  double precision,
    profit        double precision,
    credit        double precision,
    currency      text,
    leverage      integer,
    PRIMARY KEY (account, time)
);

-- Open positions as last seen (TradePosition); closed_at is set once a position disappears.
CREATE TABLE positions (
    account        bigint           NOT NULL,
    ticket         bigint           NOT NULL,
    identifier     bigint,
    symbol         text             NOT NULL,
    type           smallint         NOT NULL,
    magic          bigint,
    reason         integer,
    volume         double precision NOT NULL,
    price_open     double precision,
    sl             double precision,
    tp             double precision,
    price_current  double precision,
    swap           double precision,
    profit         double precision,
    comment        text,
    external_id    text,
    time           timestamptz,
    time_update    timestamptz,
    closed_at      timestamptz,
    updated_at     timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, ticket)
);
CREATE INDEX positions_open_idx ON positions (account, symbol) WHERE closed_at IS NULL;

-- Pending and historical orders (TradeOrder).
CREATE TABLE orders (
    account          bigint           NOT NULL,
    ticket           bigint           NOT NULL,
    symbol           text             NOT NULL,
    type             smallint         NOT NULL,
    state            smallint,
    type_time        smallint,
    type_filling     smallint,
    magic            bigint,
    position_id      bigint,
    position_by_id   bigint,
    reason           integer,
    volume_initial   double precision,
    volume_current   double precision,
    price_open       double precision,
    sl               double precision,
    tp               double precision,
    price_current    double precision,
    price_stoplimit  double precision,
    comment          text,
    external_id      text,
    time_setup       timestamptz,
    time_done        timestamptz,
    time_expiration  timestamptz,
    updated_at       timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, ticket)
);
CREATE INDEX orders_time_setup_idx ON orders (account, time_setup);

-- Executed deals (TradeDeal). `order` is a reserved word, hence order_ticket.
CREATE TABLE deals (
    account       bigint           NOT NULL,
    ticket        bigint           NOT NULL,
    order_ticket  bigint,
    position_id   bigint,
    symbol        text             NOT NULL,
    type          smallint         NOT NULL,
    entry         smallint,
    magic         bigint,
    reason        integer,
    volume        double precision,
    price         double precision,
    commission    double precision,
    swap          double precision,
    profit        double precision,
    fee           double precision,
    comment       text,
    external_id   text,
    time          timestamptz      NOT NULL,
    time_msc      bigint,
    inserted_at   timestamptz      NOT NULL DEFAULT now(),
    updated_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, ticket)
);
CREATE INDEX deals_time_idx ON deals (account, time);
CREATE INDEX deals_position_idx ON deals (account, position_id);

-- Strategy signals, one per (strategy, symbol, timeframe, bar time): replays do not repeat them.
CREATE TABLE signals (
    account     bigint           NOT NULL,
    strategy    text             NOT NULL,
    symbol      text             NOT NULL,
    timeframe   text             NOT NULL,
    time        timestamptz      NOT NULL,
    side        text             NOT NULL,
    price       double precision,
    sl          double precision,
    tp          double precision,
    strength    double precision,
    reason      text,
    mode        text             NOT NULL DEFAULT 'safety',
    payload     jsonb,
    created_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, strategy, symbol, timeframe, time)
);

-- The order journal: an intent is written before order_send, so a timeout is resolved by
-- looking the order up (by magic and the intent id in the comment), never by resending.
CREATE TABLE order_intents (
    account          bigint           NOT NULL,
    intent_id        text             NOT NULL,
    strategy         text,
    symbol           text             NOT NULL,
    action           smallint         NOT NULL,
    type             smallint         NOT NULL,
    volume           double precision NOT NULL,
    price            double precision,
    sl               double precision,
    tp               double precision,
    magic            bigint,
    comment          text,
    status           text             NOT NULL DEFAULT 'pending',
    retcode          integer,
    order_ticket     bigint,
    deal_ticket      bigint,
    position_ticket  bigint,
    error            text,
    request          jsonb,
    result           jsonb,
    created_at       timestamptz      NOT NULL DEFAULT now(),
    updated_at       timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, intent_id)
);
CREATE INDEX order_intents_status_idx ON order_intents (account, status);

-- Risk state changes and breaches (halt, resume, limit hit), kept for the audit trail.
CREATE TABLE risk_events (
    id               bigserial   PRIMARY KEY,
    account          bigint      NOT NULL,
    time             timestamptz NOT NULL DEFAULT now(),
    kind             text        NOT NULL,
    state            text,
    reason           text,
    details          jsonb,
    acknowledged_by  text,
    acknowledged_at  timestamptz
);
CREATE INDEX risk_events_time_idx ON risk_events (account, time);

-- One row per broker trading day (defined in server time).
CREATE TABLE daily_performance (
    account            bigint           NOT NULL,
    day                date             NOT NULL,
    starting_balance   double precision,
    starting_equity    double precision,
    ending_balance     double precision,
    ending_equity      double precision,
    min_equity         double precision,
    max_equity         double precision,
    realized_pnl       double precision,
    floating_pnl       double precision,
    deals_count        integer,
    trades_won         integer,
    trades_lost        integer,
    max_drawdown_pct   double precision,
    daily_loss_pct     double precision,
    halted             boolean          NOT NULL DEFAULT false,
    updated_at         timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, day)
);

-- Small durable key/value state per account (risk halt, last reconciliation, ...).
CREATE TABLE bridge_state (
    account     bigint      NOT NULL,
    key         text        NOT NULL,
    value       jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, key)
);
