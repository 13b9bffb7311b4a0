DROP INDEX comments_replies_top;
DROP INDEX comments_replies_time;
CREATE INDEX comments_parent ON comments (parent_id) WHERE parent_id IS NOT NULL;
DROP INDEX comments_roots_top;
