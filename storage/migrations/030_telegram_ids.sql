-- Issue 13: a telegram is one reading whatever the gateways' clocks say and however late it is replayed.
-- A telegram is identified by what the meter sent: (meter, access number, payload digest), not by reception
-- time. `first_at` is the reception time of the reading it became (storage/telegrams.py decides: another
-- gateway's copy or a redelivery → a reception; a replay of an old telegram → a reception; an identical
-- telegram sent again a whole access-number cycle later with the meter's latest values → a new reading).
CREATE TABLE IF NOT EXISTS telegram_ids (
    meter_key bigint NOT NULL,
    access_number smallint NOT NULL,
    digest bytea NOT NULL,
    first_at timestamptz NOT NULL,
    PRIMARY KEY (meter_key, access_number, digest)
);
CREATE INDEX IF NOT EXISTS telegram_ids_first_at ON telegram_ids (first_at);
