DROP TABLE IF EXISTS follows;
DROP TABLE IF EXISTS reaction_tallies;
DROP TABLE IF EXISTS reactions;
DROP TABLE IF EXISTS comments;
DROP TABLE IF EXISTS article_tags;
DROP TABLE IF EXISTS articles;
DROP TABLE IF EXISTS series;
DROP TABLE IF EXISTS tags;
ALTER TABLE users DROP COLUMN IF EXISTS articles_count,
                  DROP COLUMN IF EXISTS following_count,
                  DROP COLUMN IF EXISTS followers_count;
