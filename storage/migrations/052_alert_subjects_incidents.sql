-- Alerts name their subject and have a full lifecycle: dismissed (false positive, with a reason), assignee,
-- comments; gateway alerts (subject 'gw:<id>'); incidents grouping the alerts of one condition at one
-- service point; customer notice subscriptions (per service point, own contact, opt-in/out recorded, SMS).

ALTER TABLE alerts DROP CONSTRAINT alerts_state_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_state_check
    CHECK (state IN ('open', 'acknowledged', 'resolved', 'dismissed'));
ALTER TABLE alerts
    ADD COLUMN gateway_id     text,
    ADD COLUMN assignee       text,
    ADD COLUMN assigned_at    timestamptz,
    ADD COLUMN resolved_by    text,
    ADD COLUMN dismissed_at   timestamptz,
    ADD COLUMN dismissed_by   text,
    ADD COLUMN dismiss_reason text;
DROP INDEX alerts_one_open;
CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, subject) WHERE state IN ('open', 'acknowledged');
CREATE INDEX alerts_service_point ON alerts (service_point_id, opened_at);
CREATE INDEX alerts_assignee ON alerts (assignee) WHERE assignee IS NOT NULL;

ALTER TABLE alert_events DROP CONSTRAINT alert_events_event_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_event_check
    CHECK (event IN ('raised', 'escalated', 'acknowledged', 'resolved', 'dismissed', 'assigned', 'commented'));

CREATE TABLE incidents (
    id               bigserial PRIMARY KEY,
    condition        text NOT NULL,                 -- 'leak', 'burst', or the alert kind
    scope            text NOT NULL,                 -- 'sp:<id>' or the alert subject when no service point
    service_point_id text,
    area             text,
    state            text NOT NULL DEFAULT 'open'
                     CHECK (state IN ('open', 'acknowledged', 'resolved', 'dismissed')),
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    opened_at        timestamptz NOT NULL,
    closed_at        timestamptz
);
CREATE UNIQUE INDEX incidents_one_active ON incidents (condition, scope) WHERE closed_at IS NULL;
CREATE INDEX incidents_state ON incidents (state, opened_at);
ALTER TABLE alerts ADD COLUMN incident_id bigint REFERENCES incidents;
CREATE INDEX alerts_incident ON alerts (incident_id);

-- customer notices: a subscription row with audience 'customer', bound to one service point
ALTER TABLE alert_subscriptions DROP CONSTRAINT alert_subscriptions_channel_check;
ALTER TABLE alert_subscriptions ADD CONSTRAINT alert_subscriptions_channel_check
    CHECK (channel IN ('webhook', 'email', 'mqtt', 'sms'));
ALTER TABLE alert_subscriptions
    ADD COLUMN audience           text NOT NULL DEFAULT 'staff' CHECK (audience IN ('staff', 'customer')),
    ADD COLUMN service_point_id   text REFERENCES service_points ON DELETE CASCADE,
    ADD COLUMN leak_threshold_m3h double precision CHECK (leak_threshold_m3h IS NULL OR leak_threshold_m3h > 0),
    ADD COLUMN opted_in_at        timestamptz,
    ADD COLUMN opted_out_at       timestamptz,
    ADD COLUMN consent_source     text,
    ADD CONSTRAINT customer_has_point CHECK (audience = 'staff' OR service_point_id IS NOT NULL);
CREATE INDEX alert_subscriptions_point ON alert_subscriptions (service_point_id) WHERE service_point_id IS NOT NULL;

CREATE TABLE notice_consents (
    id              bigserial PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES alert_subscriptions ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT now(),
    action          text NOT NULL CHECK (action IN ('opt_in', 'opt_out')),
    source          text NOT NULL                   -- 'e-BOK', 'phone call', 'paper form', 'sms STOP' …
);
CREATE INDEX notice_consents_sub ON notice_consents (subscription_id, at);

-- which alert kinds are one condition (one leak seen by the meter and by the service point's night flow)
CREATE TABLE incident_conditions (
    kind      text PRIMARY KEY,
    condition text NOT NULL
);
INSERT INTO incident_conditions (kind, condition) VALUES
    ('continuous_flow', 'leak'), ('night_flow', 'leak'), ('meter_leak', 'leak'),
    ('burst', 'burst'), ('meter_burst', 'burst');
