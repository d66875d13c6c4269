-- The ingest writer drops a reading whose telegram is already stored: the same meter and access number within
-- the dedupe window (another gateway's copy merged by another worker). Probing the primary key for that reads
-- every reading of the meter inside the window from the heap to compare access numbers (a meter sending every
-- 16 s has about 8 of them in a 60 s window); this index answers the probe from its own pages, and a new
-- telegram finds no entry at all.
CREATE INDEX readings_telegram ON readings (meter_key, access_number, measured_at);
