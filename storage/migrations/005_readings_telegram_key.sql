-- The ingest writer drops a reading whose telegram is already stored: the same meter and access number within
-- the dedupe window (another gateway's copy, merged by another worker). With the access number in the primary
-- key, that probe is one range scan of the key whose every condition is checked on index entries: a new
-- telegram reads no table page at all (keyed on (meter, time) only, each of the meter's ≈ 8 readings in a 60 s
-- window had to be read from the heap to compare access numbers).
--
-- A reading without an access number (manual, estimated, imported) stores -1 (radio access numbers are
-- 0..255); the storage layer maps it back to None. Two telegrams of one meter cannot arrive at the same
-- microsecond, so (meter, time) stays unique in practice; a redelivered telegram has the same key.
UPDATE readings SET access_number = -1 WHERE access_number IS NULL;
ALTER TABLE readings ALTER COLUMN access_number SET DEFAULT -1;
ALTER TABLE readings ALTER COLUMN access_number SET NOT NULL;
ALTER TABLE readings DROP CONSTRAINT readings_pkey;
ALTER TABLE readings ADD PRIMARY KEY (meter_key, measured_at, access_number);
