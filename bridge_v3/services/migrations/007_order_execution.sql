-- Order execution: what each journalled intent was for, who asked, and how often it was
-- sent (a resend happens only after a definitive refusal such as a requote).
ALTER TABLE order_intents
    ADD COLUMN kind             text,                       -- open, close, cancel, modify
    ADD COLUMN requested_by     text,                       -- the strategy, or the person
    ADD COLUMN reason           text,                       -- why it was asked
    ADD COLUMN attempts         integer NOT NULL DEFAULT 0, -- order_send calls made
    ADD COLUMN signal_timeframe text,                       -- the signal it came from
    ADD COLUMN signal_time      timestamptz;
CREATE INDEX order_intents_signal_idx
    ON order_intents (account, strategy, symbol, signal_timeframe, signal_time);
