-- Outgoing webhooks per organisation (or per repair), and what became of each delivery.
-- The signing secret is kept as given: the server needs it to sign, unlike login secrets.
-- Twin of the migration with the same name in the other adapter; keep them in step.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    repair_id TEXT REFERENCES repairs (id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- Space-separated event names, e.g. `repair.update repair.stage`.
    events TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    org_id TEXT NOT NULL REFERENCES organisations (id),
    event TEXT NOT NULL,
    -- The exact bytes sent on every attempt, so retries are identical.
    body TEXT NOT NULL,
    -- queued, delivered, retrying or failed.
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_http_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_org ON webhook_deliveries (org_id, created_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id);

-- Whether an organisation's admins allowed targets in private ranges (audited).
CREATE TABLE webhook_settings (
    org_id TEXT PRIMARY KEY REFERENCES organisations (id),
    allow_private BOOLEAN NOT NULL
);
