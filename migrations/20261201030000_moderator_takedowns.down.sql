ALTER TABLE comments DROP COLUMN IF EXISTS hidden_by_moderator;
DROP INDEX IF EXISTS articles_canonical_url_key;
UPDATE articles SET status = 'draft' WHERE status = 'removed';
CREATE UNIQUE INDEX articles_canonical_url_key ON articles (canonical_url)
    WHERE status <> 'draft' AND canonical_url IS NOT NULL;
ALTER TABLE articles DROP COLUMN IF EXISTS removal_reason;
ALTER TABLE articles DROP CONSTRAINT articles_status_check;
ALTER TABLE articles ADD CONSTRAINT articles_status_check
    CHECK (status IN ('draft', 'scheduled', 'published'));
