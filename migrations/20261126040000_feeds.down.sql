DROP INDEX IF EXISTS articles_top;
DROP INDEX IF EXISTS articles_hot;
ALTER TABLE articles DROP COLUMN IF EXISTS hot_score;
DROP FUNCTION IF EXISTS hot_rank(integer, integer, timestamptz);
