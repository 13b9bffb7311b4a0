-- The relevant feed walks the hot rank in its full order (rank, then newest), so a page
-- is read from the index and stops there.
DROP INDEX articles_hot;
CREATE INDEX articles_hot ON articles (hot_score DESC, published_at DESC, id DESC)
    WHERE status = 'published';
