-- Anything a reader can see changed (an article, its author, tags, counts, comments,
-- series): Postgres notifies every node (`LISTEN content`) when the change commits, and
-- each node drops the pages it keeps for signed-out readers. Statement-level, and one
-- payload for all, so a transaction notifies once however much it writes.
CREATE FUNCTION notify_content_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('content', '');
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['articles', 'users', 'tags', 'article_tags', 'reaction_tallies',
                             'comments', 'series']
    LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
             FOR EACH STATEMENT EXECUTE FUNCTION notify_content_changed()',
            t || '_content_changed', t);
    END LOOP;
END $$;
