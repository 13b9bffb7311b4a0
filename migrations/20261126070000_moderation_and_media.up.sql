-- Uploaded images, reports, the moderators' audit log, and avatars.

CREATE TABLE images (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('article', 'cover', 'avatar')),
    storage_key text NOT NULL,
    url         text NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    format      text NOT NULL CHECK (format IN ('jpeg', 'png', 'gif', 'webp')),
    size_bytes  bigint NOT NULL,
    -- [{"name", "url", "width", "height"}]: resized copies for avatars and covers.
    variants    jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX images_user ON images (user_id, created_at DESC);

ALTER TABLE users
    ADD COLUMN avatar_url text,
    ADD COLUMN suspended_at timestamptz;

CREATE TABLE reports (
    id              uuid PRIMARY KEY,
    -- NULL: raised by the spam filter.
    reporter_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    subject_type    text NOT NULL CHECK (subject_type IN ('article', 'comment', 'user')),
    subject_id      uuid NOT NULL,
    category        text NOT NULL CHECK (category IN ('spam', 'harassment', 'rude', 'illegal', 'plagiarism', 'other')),
    message         text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    action          text,
    resolved_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    resolution_note text,
    resolved_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_by_status ON reports (status, created_at DESC, id DESC);
CREATE INDEX reports_subject ON reports (subject_type, subject_id);
-- One open report per member and subject.
CREATE UNIQUE INDEX reports_once ON reports (reporter_id, subject_type, subject_id)
    WHERE status = 'open' AND reporter_id IS NOT NULL;

CREATE TABLE audit_log (
    id           uuid PRIMARY KEY,
    -- NULL: done automatically (spam filter, automatic suspension).
    actor_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    action       text NOT NULL,
    subject_type text NOT NULL,
    subject_id   uuid NOT NULL,
    reason       text NOT NULL DEFAULT '',
    details      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_recent ON audit_log (created_at DESC, id DESC);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);
