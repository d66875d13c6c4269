-- TimescaleDB only (the hook pair makes it a no-op on the native backend): compression of raw frames, real-time
-- continuous aggregates refreshed over their whole range (late frames drained from a spool weeks later reach
-- them on the next refresh: a refresh only recomputes invalidated buckets), and the storage policies as jobs.
/*@timescaledb*/
ALTER TABLE raw_frames SET (timescaledb.compress, timescaledb.compress_segmentby = '',
                            timescaledb.compress_orderby = 'received_at DESC, frame_digest');
ALTER MATERIALIZED VIEW readings_hourly SET (timescaledb.materialized_only = false);
ALTER MATERIALIZED VIEW readings_daily SET (timescaledb.materialized_only = false);
SELECT remove_continuous_aggregate_policy('readings_hourly', if_exists => true);
SELECT remove_continuous_aggregate_policy('readings_daily', if_exists => true);
SELECT add_continuous_aggregate_policy('readings_hourly', start_offset => NULL,
       end_offset => interval '1 hour', schedule_interval => interval '10 minutes');
SELECT add_continuous_aggregate_policy('readings_daily', start_offset => NULL,
       end_offset => interval '1 hour', schedule_interval => interval '30 minutes');
SELECT add_compression_policy('readings', interval '30 days');
SELECT add_compression_policy('raw_frames', interval '30 days');
SELECT add_retention_policy('raw_frames', interval '730 days');
/*@end*/
