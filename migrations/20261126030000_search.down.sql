DROP INDEX IF EXISTS tags_name_trgm;
DROP INDEX IF EXISTS users_name_trgm;
DROP INDEX IF EXISTS users_username_trgm;
DROP INDEX IF EXISTS articles_search;
ALTER TABLE articles DROP COLUMN IF EXISTS search;
DROP FUNCTION IF EXISTS article_search_vector(text, text[], text);
