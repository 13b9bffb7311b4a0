-- Articles, tags, series, comments, reactions and follows, with their counters.

ALTER TABLE users
    ADD COLUMN followers_count integer NOT NULL DEFAULT 0,
    ADD COLUMN following_count integer NOT NULL DEFAULT 0,
    ADD COLUMN articles_count  integer NOT NULL DEFAULT 0;

CREATE TABLE tags (
    id              uuid PRIMARY KEY,
    name            text NOT NULL CHECK (name ~ '^[a-z0-9]{1,30}$'),
    description     text NOT NULL DEFAULT '',
    color           text CHECK (color ~ '^#[0-9a-f]{6}$'),
    articles_count  integer NOT NULL DEFAULT 0,
    followers_count integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_name_key UNIQUE (name)
);
CREATE INDEX tags_popular ON tags (articles_count DESC, name);

CREATE TABLE series (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT series_user_title_key UNIQUE (user_id, title)
);

-- status: draft (author only), scheduled (published, going live at published_at, still
-- invisible), published (visible).
CREATE TABLE articles (
    id                   uuid PRIMARY KEY,
    user_id              uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title                text NOT NULL,
    slug                 text NOT NULL,
    body_markdown        text NOT NULL,
    body_html            text NOT NULL,
    description          text NOT NULL DEFAULT '',
    cover_image_url      text,
    canonical_url        text,
    series_id            uuid REFERENCES series (id) ON DELETE SET NULL,
    status               text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'scheduled', 'published')),
    published_at         timestamptz,
    edited_at            timestamptz,
    reading_time_minutes integer NOT NULL DEFAULT 1,
    tag_names            text[] NOT NULL DEFAULT '{}',
    preview_token        text NOT NULL,
    comments_count       integer NOT NULL DEFAULT 0,
    reactions_count      integer NOT NULL DEFAULT 0,
    score                integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT articles_user_slug_key UNIQUE (user_id, slug)
);
SELECT manage_updated_at('articles');
CREATE UNIQUE INDEX articles_canonical_url_key ON articles (canonical_url)
    WHERE status <> 'draft' AND canonical_url IS NOT NULL;
CREATE INDEX articles_latest ON articles (published_at DESC, id DESC) WHERE status = 'published';
CREATE INDEX articles_by_author ON articles (user_id, published_at DESC, id DESC);
CREATE INDEX articles_series ON articles (series_id, published_at) WHERE series_id IS NOT NULL;

CREATE TABLE article_tags (
    article_id  uuid NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag_id      uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    position    smallint NOT NULL,
    PRIMARY KEY (article_id, tag_id)
);
CREATE INDEX article_tags_tag ON article_tags (tag_id, article_id);

CREATE TABLE comments (
    id              uuid PRIMARY KEY,
    article_id      uuid NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_id       uuid REFERENCES comments (id) ON DELETE CASCADE,
    depth           integer NOT NULL DEFAULT 0,
    body_markdown   text NOT NULL,
    body_html       text NOT NULL,
    body_hash       bytea NOT NULL,
    score           integer NOT NULL DEFAULT 0,
    reactions_count integer NOT NULL DEFAULT 0,
    replies_count   integer NOT NULL DEFAULT 0,
    edited_at       timestamptz,
    deleted_at      timestamptz,
    hidden_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
SELECT manage_updated_at('comments');
CREATE INDEX comments_thread ON comments (article_id, created_at, id);
CREATE INDEX comments_parent ON comments (parent_id) WHERE parent_id IS NOT NULL;
-- The same text by the same member in the same place once.
CREATE UNIQUE INDEX comments_no_duplicates ON comments
    (article_id, user_id, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), body_hash)
    WHERE deleted_at IS NULL;

CREATE TABLE reactions (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reactable_type  text NOT NULL CHECK (reactable_type IN ('article', 'comment')),
    reactable_id    uuid NOT NULL,
    category        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, reactable_type, reactable_id, category)
);
CREATE INDEX reactions_reactable ON reactions (reactable_type, reactable_id);
CREATE INDEX reactions_reading_list ON reactions (user_id, created_at DESC) WHERE category = 'readinglist';

-- Per item and category, kept in the transaction that adds or removes a reaction.
CREATE TABLE reaction_tallies (
    reactable_type  text NOT NULL,
    reactable_id    uuid NOT NULL,
    category        text NOT NULL,
    count           integer NOT NULL CHECK (count >= 0),
    PRIMARY KEY (reactable_type, reactable_id, category)
);

CREATE TABLE follows (
    follower_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followable_type text NOT NULL CHECK (followable_type IN ('user', 'tag')),
    followable_id   uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followable_type, followable_id)
);
CREATE INDEX follows_followable ON follows (followable_type, followable_id, created_at DESC);
