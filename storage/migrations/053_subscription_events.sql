-- Staff subscriptions hear of every lifecycle change by default: a dispatcher's acknowledge, assignment,
-- resolution or dismissal notifies subscribers as a raise does (comments notify nobody). Subscriptions that
-- kept the old default get the new one; customer subscriptions choose their own events (raised, resolved).
ALTER TABLE alert_subscriptions
    ALTER COLUMN events SET DEFAULT '{raised,escalated,acknowledged,assigned,resolved,dismissed}';
UPDATE alert_subscriptions SET events = '{raised,escalated,acknowledged,assigned,resolved,dismissed}'
 WHERE audience = 'staff' AND events = '{raised,escalated,resolved}';
