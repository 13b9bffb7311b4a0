-- Ranked feeds: a stored "hot" rank per article, and indexes for the feed orders.

-- Lemmy's hot rank, with comments counted as engagement beside the reaction score:
--   ln(max(2, score + comments + 2)) / (hours since publication + 2) ^ 1.8
-- New, engaging articles rise; everything decays with age.
CREATE FUNCTION hot_rank(score integer, comments integer, published timestamptz) RETURNS double precision
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ln(greatest(2, score + comments + 2))
         / power(greatest(0, extract(epoch FROM (now() - published)) / 3600) + 2, 1.8)
$$;

ALTER TABLE articles ADD COLUMN hot_score double precision NOT NULL DEFAULT 0;
UPDATE articles SET hot_score = hot_rank(score, comments_count, published_at) WHERE status = 'published';
CREATE INDEX articles_hot ON articles (hot_score DESC, id DESC) WHERE status = 'published';
CREATE INDEX articles_top ON articles (score DESC, published_at DESC, id DESC) WHERE status = 'published';
