-- The database a node's search index was built from: a random value kept with the
-- generation. A node whose index directory was built from another database (another
-- cluster, or a copy of this one) rebuilds it instead of serving another database's ids.
ALTER TABLE search_state ADD COLUMN source uuid NOT NULL DEFAULT gen_random_uuid();
