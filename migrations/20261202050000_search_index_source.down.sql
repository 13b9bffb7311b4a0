ALTER TABLE search_state DROP COLUMN source;
