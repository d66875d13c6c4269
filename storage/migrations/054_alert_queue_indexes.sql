-- The alert queue is read newest first, page by page (keyset on (opened_at, id)), usually filtered by state:
-- without these every page sorted the whole table (200,000 alerts: 470 ms per page; see docs/alerts.md).
CREATE INDEX alerts_queue ON alerts (opened_at, id);
CREATE INDEX alerts_queue_state ON alerts (state, opened_at, id);
CREATE INDEX alerts_gateway ON alerts (gateway_id, opened_at) WHERE gateway_id IS NOT NULL;
CREATE INDEX alerts_queue_area ON alerts (area, state, opened_at, id);
