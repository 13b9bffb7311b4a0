DROP TABLE comment_revisions;
DROP TABLE article_revisions;
