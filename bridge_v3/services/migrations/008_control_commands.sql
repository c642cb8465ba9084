-- Remote control: every command received on {prefix}:control, accepted or refused, with the
-- reason. A refused command was never executed; an accepted one ends 'done' or 'failed'.
CREATE TABLE control_commands (
    id           bigserial    PRIMARY KEY,
    account      bigint,
    source       text         NOT NULL,
    received_at  timestamptz  NOT NULL DEFAULT now(),
    command_id   text,
    command      text,
    args         jsonb,
    issued_by    text,
    issued_at    timestamptz,
    nonce        text,
    status       text         NOT NULL,  -- refused | accepted | done | failed
    code         text,                   -- why refused or failed, as a word (bad_signature, ...)
    reason       text,                   -- the same in a sentence
    result       jsonb,
    finished_at  timestamptz,
    raw          text                    -- the message as received, when it could not be read
);
CREATE INDEX control_commands_time_idx ON control_commands (account, received_at);
