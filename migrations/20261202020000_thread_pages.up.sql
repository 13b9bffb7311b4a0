-- A page of a thread reads through an index in its own order and stops at the page,
-- whatever the size of the thread: roots by score (roots by time use comments_thread),
-- replies by time and by score.
CREATE INDEX comments_roots_top ON comments (article_id, score DESC, created_at, id)
    WHERE parent_id IS NULL;
DROP INDEX comments_parent;
CREATE INDEX comments_replies_time ON comments (parent_id, created_at, id)
    WHERE parent_id IS NOT NULL;
CREATE INDEX comments_replies_top ON comments (parent_id, score DESC, created_at, id)
    WHERE parent_id IS NOT NULL;
