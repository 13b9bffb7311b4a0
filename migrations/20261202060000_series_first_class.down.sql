DROP INDEX series_user_created;
ALTER TABLE series DROP CONSTRAINT series_user_slug_key;
ALTER TABLE series DROP COLUMN description, DROP COLUMN slug;
