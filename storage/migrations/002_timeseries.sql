-- Time-series tables. The @timeseries hook comment (storage/timescale.py) makes each a TimescaleDB hypertable
-- when the extension is available, otherwise a monthly range-partitioned table with a default partition.

-- Creates the monthly partitions of a natively partitioned table from months_back before the current month
-- to months_ahead after it; rows already caught by the default partition are moved into the new partition.
CREATE OR REPLACE FUNCTION odczyt_ensure_partitions(parent text, months_ahead int, months_back int DEFAULT 1)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
    col   text;
    first date := (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => months_back))::date;
    m     date;
    part  text;
    lo    timestamptz;
    hi    timestamptz;
    made  int := 0;
BEGIN
    SELECT a.attname INTO col
      FROM pg_partitioned_table p
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent::regclass;
    IF col IS NULL THEN
        RETURN 0;  -- not natively partitioned (a hypertable): TimescaleDB makes its own chunks
    END IF;
    FOR i IN 0 .. months_back + months_ahead LOOP
        m := (first + make_interval(months => i))::date;
        part := format('%s_p%s', parent, to_char(m, 'YYYYMM'));
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        lo := m::timestamp AT TIME ZONE 'UTC';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                       'INSERT INTO %I SELECT * FROM moved', parent || '_default', col, col, part) USING lo, hi;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, lo, hi);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$fn$;

CREATE TABLE readings (
    meter_key     bigint NOT NULL,
    measured_at   timestamptz NOT NULL,
    received_at   timestamptz NOT NULL,
    total_m3      double precision,
    target_m3     double precision,
    target_date   date,
    backward_m3   double precision,
    flow_m3h      double precision,
    alarms        integer NOT NULL DEFAULT 0,        -- core.types.alarm_mask
    source        smallint NOT NULL DEFAULT 0,       -- core.types.SOURCE_CODES
    access_number smallint,
    PRIMARY KEY (meter_key, measured_at)
) /*@timeseries readings measured_at 7 days*/;

CREATE TABLE raw_frames (
    received_at  timestamptz NOT NULL,               -- first reception
    frame_digest bytea NOT NULL,                     -- blake2b-8 of the frame bytes
    link_key     bigint,                             -- DLL M-field + address as a meter key (may be a repeater)
    meter_key    bigint,                             -- the decoded telegram's meter (TPL long header wins)
    payload      bytea NOT NULL,                     -- the frame as received (L-field first)
    status       smallint NOT NULL,                  -- see storage.frames.FrameStatus
    error        text,
    link_mode    text,
    gateways     text[] NOT NULL,                    -- every gateway that heard it …
    rssi_dbm     real[] NOT NULL,                    -- … with its RSSI …
    heard_at     timestamptz[] NOT NULL,             -- … and its reception time (same order)
    lat          double precision,                   -- drive-by GPS fix of the first reception
    lon          double precision,
    decoded_at   timestamptz,
    PRIMARY KEY (frame_digest, received_at)
) /*@timeseries raw_frames received_at 1 day*/;
CREATE INDEX raw_frames_undecoded ON raw_frames (received_at) WHERE status <> 0;
CREATE INDEX raw_frames_meter ON raw_frames (meter_key, received_at);
