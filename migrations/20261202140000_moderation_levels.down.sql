ALTER TABLE comments DROP COLUMN hidden_level;
ALTER TABLE articles DROP COLUMN discussion_lock_level;
