-- Read to bill (issue 14): validation results, edits, manual readings, meter-stored registers, tariffs and
-- immutable billing runs, all beside `readings` (never new columns on it; a raw value is never overwritten).

-- VEE "V": one row per validated reading, keyed by the reading's own key; re-validation replaces the row.
CREATE TABLE reading_validations (
    meter_key     bigint NOT NULL,
    measured_at   timestamptz NOT NULL,
    access_number smallint NOT NULL,
    valid         boolean NOT NULL,
    rules         text[] NOT NULL,                   -- the flags that fired (core.billing_rules)
    validated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_key, measured_at, access_number)
);

-- Staff edits ("E"): replace a value or confirm it, with a reason; the reading itself stays as received.
CREATE TABLE reading_edits (
    id            bigserial PRIMARY KEY,
    meter_key     bigint NOT NULL,
    measured_at   timestamptz NOT NULL,
    access_number smallint NOT NULL,
    action        text NOT NULL CHECK (action IN ('replace', 'confirm')),
    value_m3      double precision CHECK ((action = 'replace') = (value_m3 IS NOT NULL)),
    original_m3   double precision,
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    actor         text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reading_edits_key ON reading_edits (meter_key, measured_at, access_number, id);

-- Customer (e-odczyt), crew and staff readings; the photo is kept as bytea (bounded by the API).
CREATE TABLE manual_readings (
    id               bigserial PRIMARY KEY,
    service_point_id text NOT NULL REFERENCES service_points ON DELETE CASCADE,
    meter_key        bigint NOT NULL REFERENCES meters,
    taken_at         timestamptz NOT NULL,
    value_m3         double precision NOT NULL CHECK (value_m3 >= 0),
    source           text NOT NULL CHECK (source IN ('customer', 'crew', 'staff')),
    status           text NOT NULL CHECK (status IN ('accepted', 'needs_verification', 'refused', 'rejected')),
    reasons          text[] NOT NULL DEFAULT '{}',
    photo            bytea,
    photo_type       text,
    actor            text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    decided_by       text,
    decided_at       timestamptz,
    decision_reason  text
);
CREATE INDEX manual_readings_meter ON manual_readings (meter_key, taken_at) WHERE status = 'accepted';
CREATE INDEX manual_readings_pending ON manual_readings (id) WHERE status = 'needs_verification';

-- The meter's own month-end / billing-date registers (Telegram.history), one per storage date.
CREATE TABLE meter_stored_values (
    meter_key    bigint NOT NULL REFERENCES meters ON DELETE CASCADE,
    stored_date  date NOT NULL,                      -- the register is the value at the end of this local day
    value_m3     double precision NOT NULL,
    storage_no   smallint,
    alarms       integer NOT NULL DEFAULT 0,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (meter_key, stored_date)
);

-- Tariffs: the first local day each tariff applies (a request may give its own changes instead).
CREATE TABLE tariffs (
    valid_from date PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100)
);

-- Persons per service point for the 2002 norm estimate (absent: no norm estimate).
CREATE TABLE service_point_persons (
    service_point_id text PRIMARY KEY REFERENCES service_points ON DELETE CASCADE,
    persons          real NOT NULL CHECK (persons > 0)
);

-- A billing run is an immutable snapshot; re-running the same period and selection makes version + 1.
CREATE TABLE billing_runs (
    id           bigserial PRIMARY KEY,
    period_first date NOT NULL,
    period_last  date NOT NULL CHECK (period_last >= period_first),
    selection    jsonb NOT NULL,                     -- {"area": …} | {"service_points": […]} | {"all": true}
    selection_key text NOT NULL,
    version      int NOT NULL,
    tariffs      jsonb NOT NULL,
    settings     jsonb NOT NULL,                     -- the thresholds the run used
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    lines        int NOT NULL DEFAULT 0,
    UNIQUE (period_first, period_last, selection_key, version)
);

CREATE TABLE billing_lines (
    run_id           bigint NOT NULL REFERENCES billing_runs ON DELETE CASCADE,
    service_point_id text NOT NULL,
    meters           text[] NOT NULL,
    opening_m3       double precision,
    opening_basis    text NOT NULL,
    opening_at       timestamptz,
    closing_m3       double precision,
    closing_basis    text NOT NULL,
    closing_at       timestamptz,
    consumption_m3   double precision,
    basis            text NOT NULL,
    tariffs          jsonb NOT NULL,
    legally_valid    boolean,
    flags            text[] NOT NULL,
    PRIMARY KEY (run_id, service_point_id)
);
