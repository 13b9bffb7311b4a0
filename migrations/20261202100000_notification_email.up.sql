-- Notifications by email: which kinds also go by email, the weekly digest, and each
-- member's level of interest in the threads they write in.
ALTER TABLE notification_settings
    ADD COLUMN email_kinds    text[] NOT NULL DEFAULT '{comment,reply,mention}',
    ADD COLUMN weekly_digest  boolean NOT NULL DEFAULT false,
    ADD COLUMN time_zone      text NOT NULL DEFAULT 'UTC',
    ADD COLUMN last_digest_at timestamptz;

-- When a notification went out by email (never twice).
ALTER TABLE notifications ADD COLUMN emailed_at timestamptz;

-- Members with notifications waiting to be mailed together, and when.
CREATE TABLE notification_mail_queue (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    due_at  timestamptz NOT NULL
);

-- all: every comment; replies_and_mentions: answers to one's comments and mentions;
-- muted: nothing from the thread.
CREATE TABLE thread_subscriptions (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    article_id uuid NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    level      text NOT NULL,
    PRIMARY KEY (article_id, user_id)
);
CREATE INDEX thread_subscriptions_by_member ON thread_subscriptions (user_id);
-- Authors of the articles already written hear of every comment, as new authors do.
INSERT INTO thread_subscriptions (user_id, article_id, level)
SELECT user_id, id, 'all' FROM articles;
