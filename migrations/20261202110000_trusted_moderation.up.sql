-- Moderation people can trust: timed suspensions, warnings, comment-only bans, locked
-- discussions, tag moderators with tag rules and aliases, private moderator notes, and
-- the content of a report as it was when reported.

-- A suspension or a comment ban with an end lifts itself (a job queued for that time).
ALTER TABLE users
    ADD COLUMN suspended_until    timestamptz,
    ADD COLUMN comment_banned_at  timestamptz,
    ADD COLUMN comment_ban_until  timestamptz,
    ADD COLUMN comment_ban_reason text;

CREATE TABLE member_warnings (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    moderator_id uuid REFERENCES users (id) ON DELETE SET NULL,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_warnings_user ON member_warnings (user_id, id DESC);

-- Between moderators only: never shown to the member or in the public log.
CREATE TABLE moderator_notes (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    author_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderator_notes_user ON moderator_notes (user_id, id DESC);

ALTER TABLE articles
    ADD COLUMN discussion_locked_at   timestamptz,
    ADD COLUMN discussion_lock_reason text;

ALTER TABLE tags
    ADD COLUMN rules_markdown text NOT NULL DEFAULT '',
    ADD COLUMN rules_html     text NOT NULL DEFAULT '',
    -- Other names writers use for the tag: an article tagged with one gets this tag.
    ADD COLUMN aliases        text[] NOT NULL DEFAULT '{}';
CREATE INDEX tags_aliases ON tags USING gin (aliases);

CREATE TABLE tag_moderators (
    tag_id       uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appointed_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tag_id, user_id)
);
CREATE INDEX tag_moderators_user ON tag_moderators (user_id);

-- What the reported article or comment said when it was reported: {title, body}.
ALTER TABLE reports ADD COLUMN snapshot jsonb;
