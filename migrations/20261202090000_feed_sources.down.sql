DROP TABLE feed_entries;
DROP TABLE feed_sources;
