-- Organizations with shared publishing, co-authored articles, and the editors' review
-- queue.

CREATE TABLE organizations (
    id              uuid PRIMARY KEY,
    -- Shares the address space of usernames: `/{slug}` is its page.
    slug            citext NOT NULL CHECK (slug ~ '^[A-Za-z0-9_]{3,30}$'),
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    url             text,
    avatar_url      text,
    members_count   integer NOT NULL DEFAULT 0,
    followers_count integer NOT NULL DEFAULT 0,
    articles_count  integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_slug_key UNIQUE (slug)
);
SELECT manage_updated_at('organizations');

-- A member's username and an organization's slug never collide: whichever is written
-- second is refused (one writer per name at a time, so two at once cannot both pass).
CREATE FUNCTION claim_profile_name() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted text := lower(CASE TG_TABLE_NAME WHEN 'users' THEN to_jsonb(NEW) ->> 'username'
                                            ELSE to_jsonb(NEW) ->> 'slug' END);
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('profile_name:' || wanted));
    IF (TG_TABLE_NAME = 'users' AND EXISTS (SELECT 1 FROM organizations WHERE slug = wanted::citext))
       OR (TG_TABLE_NAME = 'organizations' AND EXISTS (SELECT 1 FROM users WHERE username = wanted::citext)) THEN
        RAISE EXCEPTION 'the name % is taken', wanted
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'profile_name_taken';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER users_claim_profile_name BEFORE INSERT OR UPDATE OF username ON users
    FOR EACH ROW EXECUTE FUNCTION claim_profile_name();
CREATE TRIGGER organizations_claim_profile_name BEFORE INSERT OR UPDATE OF slug ON organizations
    FOR EACH ROW EXECUTE FUNCTION claim_profile_name();

CREATE TABLE organization_members (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'editor', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user ON organization_members (user_id);

CREATE TABLE organization_invitations (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'editor', 'member')),
    invited_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organization_invitations_once UNIQUE (organization_id, user_id)
);
CREATE INDEX organization_invitations_user ON organization_invitations (user_id);

-- An article's organization, its accepted co-authors (kept on the row, so lists and
-- permissions read them with it), and where it stands in the editors' review queue.
ALTER TABLE articles
    ADD COLUMN organization_id uuid REFERENCES organizations (id) ON DELETE SET NULL,
    ADD COLUMN co_author_ids   uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN review_state    text CHECK (review_state IN ('pending', 'returned')),
    ADD COLUMN review_note     text,
    ADD COLUMN submitted_at    timestamptz;
CREATE INDEX articles_by_organization ON articles (organization_id, published_at DESC, id DESC)
    WHERE organization_id IS NOT NULL;
CREATE INDEX articles_co_authors ON articles USING gin (co_author_ids);
CREATE INDEX articles_review_queue ON articles (organization_id, submitted_at)
    WHERE review_state = 'pending';

-- Invited (accepted_at NULL) and accepted co-authors; at most four an article.
CREATE TABLE article_co_authors (
    article_id  uuid NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invited_at  timestamptz NOT NULL DEFAULT now(),
    accepted_at timestamptz,
    PRIMARY KEY (article_id, user_id)
);
CREATE INDEX article_co_authors_user ON article_co_authors (user_id);

ALTER TABLE follows DROP CONSTRAINT follows_followable_type_check;
ALTER TABLE follows ADD CONSTRAINT follows_followable_type_check
    CHECK (followable_type IN ('user', 'tag', 'organization'));

CREATE TRIGGER organizations_content_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON organizations FOR EACH STATEMENT EXECUTE FUNCTION notify_content_changed();
