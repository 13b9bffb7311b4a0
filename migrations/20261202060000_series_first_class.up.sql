-- Series become objects of their own: a slug for their URL (title words plus a short
-- suffix, like articles') and a description their author writes.
ALTER TABLE series
    ADD COLUMN slug text,
    ADD COLUMN description text NOT NULL DEFAULT '';
UPDATE series SET slug =
    coalesce(nullif(trim(BOTH '-' FROM regexp_replace(lower(title), '[^a-z0-9]+', '-', 'g')), ''), 'series')
    || '-' || substr(replace(id::text, '-', ''), 29, 4);
ALTER TABLE series ALTER COLUMN slug SET NOT NULL;
-- A binary from before this migration (still running during a rolling deploy, or after the
-- code alone is rolled back) inserts series without a slug: they get a random one.
ALTER TABLE series ALTER COLUMN slug SET DEFAULT 'series-' || substr(md5(random()::text), 1, 8);
ALTER TABLE series ADD CONSTRAINT series_user_slug_key UNIQUE (user_id, slug);
CREATE INDEX series_user_created ON series (user_id, created_at DESC, id DESC);
