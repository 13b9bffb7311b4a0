DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['articles', 'users', 'tags', 'article_tags', 'reaction_tallies',
                             'comments', 'series']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_content_changed', t);
    END LOOP;
END $$;
DROP FUNCTION IF EXISTS notify_content_changed();
