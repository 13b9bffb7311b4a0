-- Signing in through outside providers (GitHub), a second factor (TOTP and recovery
-- codes), and members' data exports.

-- How each session began: `password` or a provider's name, with the second factor used.
ALTER TABLE sessions
    ADD COLUMN method        text NOT NULL DEFAULT 'password',
    ADD COLUMN second_factor text CHECK (second_factor IN ('totp', 'recovery_code'));

-- An account at a provider that signs a member in. `subject` is the provider's stable id
-- for the account (its login can change).
CREATE TABLE identities (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider     text NOT NULL,
    subject      text NOT NULL,
    login        text NOT NULL,
    email        citext,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    CONSTRAINT identities_subject_key UNIQUE (provider, subject),
    CONSTRAINT identities_user_provider_key UNIQUE (user_id, provider)
);

-- A sign-in with a provider in flight: the state (hashed) and the PKCE verifier, for a
-- few minutes. `link_user_id` when a signed-in member is linking the provider.
CREATE TABLE oauth_flows (
    state_hash   bytea PRIMARY KEY,
    provider     text NOT NULL,
    verifier     text NOT NULL,
    link_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX oauth_flows_expiry ON oauth_flows (expires_at);

-- A signed-in member's leave, given with their password, to link a provider from the
-- browser that opens the link (once, within a few minutes).
CREATE TABLE identity_link_grants (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   text NOT NULL,
    expires_at timestamptz NOT NULL
);

-- TOTP: the secret being set up, then the confirmed one; the last time step accepted, so
-- a code is never accepted twice.
ALTER TABLE users
    ADD COLUMN totp_pending_secret bytea,
    ADD COLUMN totp_secret         bytea,
    ADD COLUMN totp_enabled_at     timestamptz,
    ADD COLUMN totp_last_step      bigint;

CREATE TABLE recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in waiting for its second factor: the first one (`method`) passed.
CREATE TABLE login_challenges (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method     text NOT NULL,
    failures   integer NOT NULL DEFAULT 0,
    ip         text,
    user_agent text,
    expires_at timestamptz NOT NULL
);
CREATE INDEX login_challenges_expiry ON login_challenges (expires_at);

-- A member's data export: built by the worker, kept (with its ZIP) until it expires.
CREATE TABLE data_exports (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status     text NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'ready', 'failed', 'expired')),
    archive    bytea,
    size_bytes bigint,
    error      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    ready_at   timestamptz,
    expires_at timestamptz
);
CREATE INDEX data_exports_user ON data_exports (user_id, created_at DESC);
-- Kept out of line and uncompressed (a ZIP is compressed already), so a download reads
-- it a slice at a time instead of the whole archive at once.
ALTER TABLE data_exports ALTER COLUMN archive SET STORAGE EXTERNAL;
