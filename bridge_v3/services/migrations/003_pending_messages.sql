-- The PostgreSQL half of the transactional outbox. Messages that describe rows being
-- committed (bars, ticks, snapshots, deals) are written here in the same transaction as those
-- rows and their watermark, so a commit can never happen without its messages. After the
-- commit the bridge moves them to its local outbox (SPOOL_PATH), where they are numbered and
-- sent, then deletes them here. One row holds one batch: `messages` is one message per line,
-- each line: channel (JSON string) TAB type (JSON string) TAB data (compact JSON).
CREATE TABLE pending_messages (
    id          bigserial   PRIMARY KEY,
    source      text        NOT NULL,  -- the bridge (envelope `source`) that will send them
    count       integer     NOT NULL,
    messages    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_messages_source_idx ON pending_messages (source, id);
