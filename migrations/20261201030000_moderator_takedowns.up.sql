-- A moderator's takedown is a state of its own: `removed`, with its reason. The author
-- still reads (and may edit or delete) the article but cannot publish it again; only a
-- moderator restores it (to draft).
ALTER TABLE articles DROP CONSTRAINT articles_status_check;
ALTER TABLE articles ADD CONSTRAINT articles_status_check
    CHECK (status IN ('draft', 'scheduled', 'published', 'removed'));
ALTER TABLE articles ADD COLUMN removal_reason text;
DROP INDEX articles_canonical_url_key;
CREATE UNIQUE INDEX articles_canonical_url_key ON articles (canonical_url)
    WHERE status IN ('scheduled', 'published') AND canonical_url IS NOT NULL;

-- A comment hidden by a moderator stays hidden whatever the article's author toggles.
ALTER TABLE comments ADD COLUMN hidden_by_moderator boolean NOT NULL DEFAULT false;
