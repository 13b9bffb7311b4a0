-- Each server node keeps its own search index and keeps it in step with Postgres: every
-- change to what search finds about an article (its text, tags, status, author, or the
-- author's standing) is logged here in the transaction that makes it, and Postgres
-- notifies the nodes (`LISTEN search`) when it commits. A node re-reads the articles
-- named and re-indexes them; the log is kept a day.
CREATE TABLE search_changes (
    seq        bigserial PRIMARY KEY,
    article_id uuid NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX search_changes_at ON search_changes (at);

-- Operators bump the generation (`vibecoding search rebuild`) to have every node build its
-- index again from the articles table.
CREATE TABLE search_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    generation bigint NOT NULL DEFAULT 1
);
INSERT INTO search_state DEFAULT VALUES;

CREATE FUNCTION log_article_search_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO search_changes (article_id) VALUES (OLD.id);
    ELSIF TG_OP = 'INSERT'
       OR NEW.title IS DISTINCT FROM OLD.title
       OR NEW.body_markdown IS DISTINCT FROM OLD.body_markdown
       OR NEW.tag_names IS DISTINCT FROM OLD.tag_names
       OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.published_at IS DISTINCT FROM OLD.published_at
       OR NEW.user_id IS DISTINCT FROM OLD.user_id THEN
        INSERT INTO search_changes (article_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER articles_search_change AFTER INSERT OR UPDATE OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION log_article_search_change();

-- Suspended and deleted members' articles are not found: a change of standing re-indexes
-- all of them.
CREATE FUNCTION log_author_search_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.role = 'suspended') IS DISTINCT FROM (OLD.role = 'suspended')
       OR (NEW.deleted_at IS NULL) IS DISTINCT FROM (OLD.deleted_at IS NULL) THEN
        INSERT INTO search_changes (article_id) SELECT id FROM articles WHERE user_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER users_search_change AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION log_author_search_change();

CREATE FUNCTION notify_search_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('search', '');
    RETURN NULL;
END $$;
CREATE TRIGGER search_changes_notify AFTER INSERT ON search_changes
    FOR EACH STATEMENT EXECUTE FUNCTION notify_search_changed();
CREATE TRIGGER search_state_notify AFTER UPDATE ON search_state
    FOR EACH STATEMENT EXECUTE FUNCTION notify_search_changed();

-- Members are found through indexes on what the query compares (lower(name)), written
-- at once rather than through GIN's pending list, which every search would otherwise
-- read from end to end after a burst of sign-ups.
DROP INDEX users_name_trgm;
CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops)
    WITH (fastupdate = off) WHERE deleted_at IS NULL;
ALTER INDEX users_username_trgm SET (fastupdate = off);
-- Tags by nearness (GiST orders by trigram distance and stops at the page) and prefix.
DROP INDEX tags_name_trgm;
CREATE INDEX tags_name_trgm ON tags USING gist (name gist_trgm_ops);
