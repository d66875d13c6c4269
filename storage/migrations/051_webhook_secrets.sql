-- Webhook signing secrets sealed with the master key like meter keys (issue 11): nonce(12) || AES-256-GCM
-- ciphertext+tag, the subscription's id as associated data. The plain-text column `secret` is legacy: rows that
-- still have one are sealed and cleared by `odczyt db migrate` (or `odczyt keys rewrap`) when ODCZYT_MASTER_KEY
-- is set (storage.alerts_outbox.seal_plain_secrets); SQL alone cannot seal them, it has no key.
ALTER TABLE alert_subscriptions
    ADD COLUMN secret_enc    bytea,
    ADD COLUMN master_key_id text;                  -- fingerprint of the master key that sealed secret_enc
COMMENT ON COLUMN alert_subscriptions.secret IS 'legacy plain-text webhook secret; sealed into secret_enc and cleared';
ALTER TABLE alert_subscriptions
    ADD CONSTRAINT alert_subscriptions_sealed_with_key CHECK ((secret_enc IS NULL) = (master_key_id IS NULL));
