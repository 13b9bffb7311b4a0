-- Who locked a discussion or hid a comment, as a level: 0 the article's author, 1 a tag
-- moderator, 2 a moderator of the instance. Only the same level or a higher one undoes it.
ALTER TABLE articles ADD COLUMN discussion_lock_level smallint;
ALTER TABLE comments ADD COLUMN hidden_level smallint;
