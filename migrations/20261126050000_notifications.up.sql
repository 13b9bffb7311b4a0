-- Notifications, written by worker jobs. Grouped ones (reactions on one item per day, new
-- followers per day) share a row keyed by group_key, with the actors who joined in.
CREATE TABLE notifications (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('comment', 'reply', 'mention', 'reaction', 'follower')),
    group_key     text NOT NULL,
    actor_ids     uuid[] NOT NULL,
    article_id    uuid REFERENCES articles (id) ON DELETE CASCADE,
    comment_id    uuid REFERENCES comments (id) ON DELETE CASCADE,
    read_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_group_key UNIQUE (user_id, group_key)
);
CREATE INDEX notifications_inbox ON notifications (user_id, updated_at DESC, id DESC);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_old ON notifications (read_at) WHERE read_at IS NOT NULL;

CREATE TABLE notification_settings (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    muted       text[] NOT NULL DEFAULT '{}'
);
