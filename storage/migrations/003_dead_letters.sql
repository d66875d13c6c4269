-- Messages that could not be parsed at all (not JSON, bad hex, absurd sizes): kept, counted, acked.
CREATE TABLE dead_letters (
    digest     bytea PRIMARY KEY,                    -- blake2b-16 of the whole payload
    topic      text NOT NULL,
    reason     text NOT NULL,
    detail     text,
    payload    bytea NOT NULL,                       -- truncated to storage.deadletters.MAX_KEPT_BYTES
    size_bytes integer NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    count      integer NOT NULL DEFAULT 1
);
CREATE INDEX dead_letters_last_seen ON dead_letters (last_seen);
