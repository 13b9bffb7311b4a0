-- Full-text search over live articles (title > tags > body), and trigram matching for
-- usernames, names and tag names (prefixes and typos).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- array_to_string is only STABLE in general; over text[] it is immutable in practice, and a
-- generated column needs an IMMUTABLE expression.
CREATE FUNCTION article_search_vector(title text, tags text[], body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(array_to_string(tags, ' '), '')), 'B')
        || setweight(to_tsvector('english'::regconfig, left(coalesce(body, ''), 200000)), 'C')
$$;

ALTER TABLE articles ADD COLUMN search tsvector
    GENERATED ALWAYS AS (article_search_vector(title, tag_names, body_markdown)) STORED;
CREATE INDEX articles_search ON articles USING gin (search) WHERE status = 'published';

CREATE INDEX users_username_trgm ON users USING gin ((username::text) gin_trgm_ops) WHERE deleted_at IS NULL;
CREATE INDEX users_name_trgm ON users USING gin (name gin_trgm_ops) WHERE deleted_at IS NULL;
CREATE INDEX tags_name_trgm ON tags USING gin (name gin_trgm_ops);
