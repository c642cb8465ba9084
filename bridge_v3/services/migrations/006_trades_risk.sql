-- Trades and risk. Positions and orders whose magic number is not one of the bridge's own
-- strategies are mirrored like the others but marked external: the bridge never manages them.
ALTER TABLE positions ADD COLUMN external boolean NOT NULL DEFAULT false;
ALTER TABLE orders ADD COLUMN external boolean NOT NULL DEFAULT false;

-- What the risk gate checks an order against: the broker's cap on one symbol's volume
-- (0 = none) and its execution mode.
ALTER TABLE symbols ADD COLUMN volume_limit double precision;
ALTER TABLE symbols ADD COLUMN trade_exemode integer;

-- Pending orders the mirror follows until they are filled, cancelled or expire.
CREATE INDEX orders_active_idx ON orders (account) WHERE state IN (0, 1, 3, 7, 8, 9);
