-- Alerts: one open alert per subject (meter or service point) and kind, with a history of every change,
-- notification subscriptions, and an outbox so a notification survives a crash and a receiver outage.

CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL,
    subject          text NOT NULL,                 -- 'm:<meter_key>' or 'sp:<service point id>'
    meter_key        bigint,
    service_point_id text,
    area             text,
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    dedupe_key       text NOT NULL,                 -- episode start / local day: raise at most once per key
    evidence         jsonb NOT NULL DEFAULT '{}',   -- the numbers that triggered it
    detected_at      timestamptz NOT NULL,          -- when the condition started
    opened_at        timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    resolution       text,                          -- 'auto' (condition cleared) or a note
    UNIQUE (kind, subject, dedupe_key)
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_state_kind ON alerts (state, kind);
CREATE INDEX alerts_meter ON alerts (meter_key, opened_at);

CREATE TABLE alert_events (
    id        bigserial PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    event     text NOT NULL CHECK (event IN ('raised', 'escalated', 'acknowledged', 'resolved')),
    actor     text NOT NULL DEFAULT 'system',
    severity  text,
    evidence  jsonb,
    note      text
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

CREATE TABLE alert_subscriptions (
    id           bigserial PRIMARY KEY,
    channel      text NOT NULL CHECK (channel IN ('webhook', 'email', 'mqtt')),
    target       text NOT NULL,                     -- URL, e-mail address, or MQTT topic
    secret       text,                              -- webhook HMAC-SHA256 key
    kinds        text[],                            -- NULL = every kind
    min_severity text NOT NULL DEFAULT 'info' CHECK (min_severity IN ('info', 'warning', 'critical')),
    areas        text[],                            -- NULL = every area
    events       text[] NOT NULL DEFAULT '{raised,escalated,resolved}',
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_outbox (
    id              bigserial PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES alert_subscriptions ON DELETE CASCADE,
    alert_id        bigint NOT NULL REFERENCES alerts ON DELETE CASCADE,
    event           text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        int NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz,
    dead_at         timestamptz                     -- dead-lettered after the channel's retry limit
);
CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_at) WHERE sent_at IS NULL AND dead_at IS NULL;

-- one row per analysis run: the next run reports finished episodes that ended after the last one's "now"
CREATE TABLE analysis_runs (
    id        bigserial PRIMARY KEY,
    ran_at    timestamptz NOT NULL DEFAULT now(),
    now       timestamptz NOT NULL,
    raised    int NOT NULL,
    resolved  int NOT NULL,
    seconds   jsonb NOT NULL DEFAULT '{}'
);
