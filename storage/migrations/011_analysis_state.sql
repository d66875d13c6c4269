-- Incremental analysis (pipeline/analyze_shards.py): how far the last completed run looked, and when each meter
-- was last heard per source as of that run (the silent and never-heard rules' input, merged with newer readings
-- instead of aggregating all history again).
CREATE TABLE analysis_progress (
    id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    data_until timestamptz NOT NULL,                 -- the 'now' of the last completed run
    full_run   boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE analysis_last_heard (
    meter_key bigint NOT NULL,
    source    smallint NOT NULL,
    last_at   timestamptz NOT NULL,
    PRIMARY KEY (meter_key, source)
);
