DROP TRIGGER organizations_content_changed ON organizations;
DELETE FROM follows WHERE followable_type = 'organization';
ALTER TABLE follows DROP CONSTRAINT follows_followable_type_check;
ALTER TABLE follows ADD CONSTRAINT follows_followable_type_check
    CHECK (followable_type IN ('user', 'tag'));
DROP TABLE article_co_authors;
ALTER TABLE articles
    DROP COLUMN organization_id, DROP COLUMN co_author_ids, DROP COLUMN review_state,
    DROP COLUMN review_note, DROP COLUMN submitted_at;
DROP TABLE organization_invitations;
DROP TABLE organization_members;
DROP TRIGGER users_claim_profile_name ON users;
DROP TABLE organizations;
DROP FUNCTION claim_profile_name();
