-- Webhooks: a member's (their own content) or an admin's (the whole instance), each with
-- the events it wants, an optional GraphQL selection for its payload, and the secret its
-- deliveries are signed with (kept to sign; shown to the owner only when created).
CREATE TABLE webhooks (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    instance        boolean NOT NULL DEFAULT false,
    url             text NOT NULL,
    events          text[] NOT NULL,
    selection       text,
    secret          text NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    disabled_reason text,
    -- Since when every delivery failed (NULL after a success): a day of it disables.
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_by_owner ON webhooks (user_id, created_at DESC, id DESC);
-- Every write asks whether an instance webhook wants its event.
CREATE INDEX webhooks_instance ON webhooks (id) WHERE instance AND active;

-- One event sent to one webhook: the body as first rendered (a redelivery sends it again),
-- and its latest attempt.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    event            text NOT NULL,
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    response_status  integer,
    response_excerpt text,
    error            text,
    duration_ms      integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_page ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
