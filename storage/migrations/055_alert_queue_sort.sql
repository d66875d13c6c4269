-- The alert queue sorts on the server (GET /v1/alerts?sort=, storage/alerts.py SORTS): each sort is its key
-- ascending, ties newest first, keyset-paged; these match those ORDER BYs so a page reads only its rows.
-- ("-opened_at" and "opened_at" use alerts_queue of 054.)
CREATE INDEX alerts_sort_severity ON alerts
    ((CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END), opened_at DESC, id DESC);
CREATE INDEX alerts_sort_state ON alerts
    ((CASE state WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 WHEN 'resolved' THEN 2 ELSE 3 END), opened_at DESC, id DESC);
CREATE INDEX alerts_sort_kind ON alerts (kind, opened_at DESC, id DESC);
CREATE INDEX alerts_sort_area ON alerts ((coalesce(area, '')), opened_at DESC, id DESC);
