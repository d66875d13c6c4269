-- Hourly and daily (Europe/Warsaw days) per-meter rollups of readings: continuous aggregates on TimescaleDB,
-- incrementally maintained tables otherwise (storage/rollups.py refreshes the buckets marked dirty).
/*@rollups*/

-- Storage policies; storage.maintenance reads them (TimescaleDB: they become compression/retention jobs).
INSERT INTO odczyt_settings (key, value) VALUES
    ('readings_retention', ''),                      -- '' = keep forever (billing data)
    ('raw_frames_retention', '730 days'),
    ('dead_letters_retention', '90 days'),
    ('compress_after', '30 days'),
    ('partitions_ahead_months', '3')
ON CONFLICT (key) DO NOTHING;
