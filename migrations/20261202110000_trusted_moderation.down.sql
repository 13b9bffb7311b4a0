ALTER TABLE reports DROP COLUMN snapshot;
DROP TABLE tag_moderators;
DROP INDEX tags_aliases;
ALTER TABLE tags DROP COLUMN rules_markdown, DROP COLUMN rules_html, DROP COLUMN aliases;
ALTER TABLE articles DROP COLUMN discussion_locked_at, DROP COLUMN discussion_lock_reason;
DROP TABLE moderator_notes;
DROP TABLE member_warnings;
ALTER TABLE users
    DROP COLUMN suspended_until, DROP COLUMN comment_banned_at, DROP COLUMN comment_ban_until,
    DROP COLUMN comment_ban_reason;
