-- Authentication and audit (issue 11): API keys for machine clients, local users with argon2 password hashes,
-- server-side sessions for the cookie login, and the audit log every write appends to in its own transaction.
-- Secrets are never stored: an API key keeps the SHA-256 of its random secret, a session the SHA-256 of its
-- cookie value, a user the argon2id hash of the password.

CREATE TABLE api_keys (
    id                  bigserial PRIMARY KEY,
    key_id              text NOT NULL UNIQUE,            -- the public part of 'odk_<key_id>_<secret>'
    name                text NOT NULL,
    role                text NOT NULL CHECK (role IN ('admin', 'operations', 'billing', 'crew', 'portal')),
    service_point_scope text[],                          -- NULL: not restricted to service points
    secret_sha256       bytea NOT NULL CHECK (length(secret_sha256) = 32),
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL,
    expires_at          timestamptz,
    revoked_at          timestamptz,
    last_used_at        timestamptz
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE users (
    id                  bigserial PRIMARY KEY,
    name                text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role                text NOT NULL CHECK (role IN ('admin', 'operations', 'billing', 'crew', 'portal')),
    service_point_scope text[],
    password_hash       text NOT NULL,                   -- argon2id, PHC string
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    disabled_at         timestamptz
);

CREATE TABLE sessions (
    token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf_token   text NOT NULL,                          -- sent back in X-CSRF-Token on cookie-authenticated writes
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,                    -- keyset cursor: newest first is id DESC
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,                            -- 'key:<name>', 'user:<name>', 'oidc:<sub>', 'cli:<os user>'
    action     text NOT NULL,                            -- 'alert.ack', 'api_key.create', 'user.passwd', …
    subject    text NOT NULL,                            -- what was changed: 'alert:17', 'api_key:billing-export'
    before     jsonb,
    after      jsonb,
    request_id text
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
