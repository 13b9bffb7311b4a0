DROP INDEX articles_hot;
CREATE INDEX articles_hot ON articles (hot_score DESC, id DESC) WHERE status = 'published';
