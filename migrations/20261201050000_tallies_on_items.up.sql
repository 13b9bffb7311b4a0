-- Every item carries its reaction tallies ({category: count}, the `reaction_tallies` rows
-- of the item), written in the same transaction: a list of articles or a thread reads its
-- counts with its rows, not in a statement of its own.
ALTER TABLE articles ADD COLUMN tallies jsonb NOT NULL DEFAULT '{}';
ALTER TABLE comments ADD COLUMN tallies jsonb NOT NULL DEFAULT '{}';
UPDATE articles a SET tallies = t.tallies
FROM (SELECT reactable_id, jsonb_object_agg(category, count) AS tallies FROM reaction_tallies
      WHERE reactable_type = 'article' AND count > 0 GROUP BY reactable_id) t
WHERE a.id = t.reactable_id;
UPDATE comments c SET tallies = t.tallies
FROM (SELECT reactable_id, jsonb_object_agg(category, count) AS tallies FROM reaction_tallies
      WHERE reactable_type = 'comment' AND count > 0 GROUP BY reactable_id) t
WHERE c.id = t.reactable_id;
