-- Edit history: every edit of an article or a comment keeps a revision with its editor,
-- what changed and a unified diff of the text. An author may redact a revision's diff:
-- the entry stays, marked redacted, and moderators still read it.

CREATE TABLE article_revisions (
    id          uuid PRIMARY KEY,
    article_id  uuid NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    editor_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    -- What changed: title, body, tags, cover_image_url, canonical_url.
    fields      text[] NOT NULL,
    diff        text NOT NULL,
    redacted_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX article_revisions_article ON article_revisions (article_id, id DESC);

CREATE TABLE comment_revisions (
    id          uuid PRIMARY KEY,
    comment_id  uuid NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    editor_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    fields      text[] NOT NULL,
    diff        text NOT NULL,
    redacted_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comment_revisions_comment ON comment_revisions (comment_id, id DESC);
