-- Meter registry: meters (with legalization data), their encrypted AES keys, service points, installations.
CREATE TABLE odczyt_settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE meters (
    meter_key               bigint PRIMARY KEY,              -- core.ids.meter_key(manufacturer, meter_id)
    manufacturer            char(3) NOT NULL,
    meter_id                char(8) NOT NULL,
    version                 smallint,
    device_type             smallint,
    model                   text,
    driver                  text,
    q3_m3h                  double precision CHECK (q3_m3h IS NULL OR q3_m3h > 0),
    read_mode               text NOT NULL DEFAULT 'fixed' CHECK (read_mode IN ('fixed', 'driveby')),
    legalization_mark_type  text CHECK (legalization_mark_type IN ('national_year', 'expiry', 'mid')),
    legalization_mark_value text,
    legalized_on            date,
    legal_valid_until       date,                            -- derived by storage.legalization on write
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (manufacturer, meter_id),
    CHECK ((legalization_mark_type IS NULL) = (legalization_mark_value IS NULL))
);
CREATE INDEX meters_meter_id ON meters (meter_id);

CREATE TABLE meter_keys (
    meter_key     bigint NOT NULL REFERENCES meters ON DELETE CASCADE,
    key_no        smallint NOT NULL,                 -- 1, 2, … in order of arrival
    key_enc       bytea NOT NULL,                    -- 12-byte nonce || AES-256-GCM(master key) ciphertext+tag
    master_key_id text NOT NULL,                     -- fingerprint of the master key that sealed it
    added_at      timestamptz NOT NULL DEFAULT now(),
    retired_at    timestamptz,                       -- kept after rotation to re-decode old frames
    PRIMARY KEY (meter_key, key_no)
);

CREATE TABLE service_points (
    id           text PRIMARY KEY,
    address      text,
    customer_ref text,
    lat          double precision CHECK (lat IS NULL OR lat BETWEEN -90 AND 90),
    lon          double precision CHECK (lon IS NULL OR lon BETWEEN -180 AND 180),
    area         text,
    occupied     boolean NOT NULL DEFAULT true
);

CREATE TABLE installations (
    service_point_id text NOT NULL REFERENCES service_points ON DELETE CASCADE,
    meter_key        bigint NOT NULL REFERENCES meters,
    installed_at     timestamptz NOT NULL,
    removed_at       timestamptz,
    initial_m3       double precision NOT NULL DEFAULT 0,
    final_m3         double precision,
    PRIMARY KEY (service_point_id, installed_at),
    CHECK (removed_at IS NULL OR removed_at > installed_at)
);
CREATE INDEX installations_meter ON installations (meter_key, installed_at);
