-- Gateway registry, fed by the collectors' retained status messages (odczyt/v1/status/{gateway_id}):
-- the newest heartbeat's figures, online/offline with the last-will reason, and a short heartbeat history
-- (spool depth, watchdog resets) from which "spool growing" and "receiver watchdog firing" are judged.

CREATE TABLE gateways (
    id                 text PRIMARY KEY,
    state              text NOT NULL DEFAULT 'online' CHECK (state IN ('online', 'offline')),
    reason             text,                          -- offline: 'lost' (last will), 'stopped', 'no heartbeat'
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL,          -- newest status message of any kind
    last_heartbeat_at  timestamptz,                   -- newest 'online' document
    state_changed_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_s        double precision,              -- interval the gateway announces (or the configured one)
    uptime_s           double precision,
    frames_per_min     double precision,              -- sum over its receivers
    spool_depth        integer,
    spool_max          integer,
    spool_dropped      integer,
    receiver           text,                          -- receiver kind(s), e.g. 'im871a'
    link_mode          text,
    firmware           text,
    mqtt_protocol      text,
    lat                double precision CHECK (lat IS NULL OR lat BETWEEN -90 AND 90),
    lon                double precision CHECK (lon IS NULL OR lon BETWEEN -180 AND 180),
    status             jsonb NOT NULL DEFAULT '{}'    -- the newest status document as received
);

CREATE TABLE gateway_heartbeats (
    gateway_id      text NOT NULL REFERENCES gateways ON DELETE CASCADE,
    at              timestamptz NOT NULL,
    spool_depth     integer,
    watchdog_resets integer,                          -- sum over receivers, cumulative since the gateway started
    frames_per_min  double precision,
    PRIMARY KEY (gateway_id, at)
);
