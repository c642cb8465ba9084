-- ensure_tick_partition raced: a session that waited for the lock while another created the
-- same month still found no such table (its name lookup answered from a cache made before
-- the other commit) and failed with 'relation "ticks_YYYYMM" already exists'. It happened at
-- the first start with two tick symbols and would recur at every month boundary. Now a
-- table created meanwhile is recognised by the error its creation raises.
CREATE OR REPLACE FUNCTION ensure_tick_partition(at timestamptz) RETURNS text
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
    BEGIN
        EXECUTE format('CREATE TABLE %I (LIKE ticks INCLUDING DEFAULTS)', part);
    EXCEPTION WHEN duplicate_table THEN
        RETURN part;  -- made (moved into and attached) by the session that held the lock
    END;
    EXECUTE format(
        'WITH moved AS (DELETE FROM ticks_default WHERE time >= $1 AND time < $2 RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
    EXECUTE format('ALTER TABLE ticks ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part, lo, hi);
    RETURN part;
END;
$$;
