-- The private address of a member's FOLLOWING feed, for feed readers that cannot sign in:
-- one token per member, stored as its SHA-256 hash like every other credential.
CREATE TABLE feed_tokens (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
