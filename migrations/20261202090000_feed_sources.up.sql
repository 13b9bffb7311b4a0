-- Feeds a member imports: fetched on a schedule with conditional GET; each entry becomes
-- an article once, whatever happens to the article afterwards.
CREATE TABLE feed_sources (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url             text NOT NULL,
    mark_canonical  boolean NOT NULL,
    publish         boolean NOT NULL,
    etag            text,
    last_modified   text,
    last_fetched_at timestamptz,
    last_error      text,
    next_fetch_at   timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, url)
);
CREATE INDEX feed_sources_due ON feed_sources (next_fetch_at);

CREATE TABLE feed_entries (
    source_id  uuid NOT NULL REFERENCES feed_sources (id) ON DELETE CASCADE,
    guid       text NOT NULL,
    article_id uuid REFERENCES articles (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, guid)
);
CREATE INDEX feed_entries_articles ON feed_entries (source_id, created_at DESC);
