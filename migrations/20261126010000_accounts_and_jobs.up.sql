-- Members, their sessions and API keys, single-use email tokens, and the job queue.

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    username            citext NOT NULL,
    email               citext,
    name                text NOT NULL DEFAULT '',
    password_hash       text,
    role                text NOT NULL DEFAULT 'member'
                        CHECK (role IN ('member', 'trusted', 'moderator', 'admin', 'suspended')),
    suspended_reason    text,
    email_confirmed_at  timestamptz,
    pending_email       citext,
    bio                 text NOT NULL DEFAULT '',
    location            text NOT NULL DEFAULT '',
    website_url         text,
    github_username     text,
    twitter_username    text,
    failed_logins       integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    welcome_sent_at     timestamptz,
    deleted_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email)
);
SELECT manage_updated_at('users');
CREATE INDEX users_admins ON users (id) WHERE role = 'admin';

CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash      bytea NOT NULL,
    ip              text,
    user_agent      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user ON sessions (user_id, created_at DESC);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    description     text NOT NULL,
    key_hash        bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at DESC);

-- Email confirmation, email change and password reset tokens; only their hashes are kept.
CREATE TABLE email_tokens (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose         text NOT NULL CHECK (purpose IN ('confirm', 'reset')),
    email           citext NOT NULL,
    token_hash      bytea NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT email_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

-- The durable job queue. A job is inserted in the transaction of the write that causes
-- it; a worker claims it with a lease (FOR UPDATE SKIP LOCKED), and a job whose lease ran
-- out (its worker died) is claimed again.
CREATE TABLE jobs (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 8,
    run_at          timestamptz NOT NULL DEFAULT now(),
    locked_by       text,
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
SELECT manage_updated_at('jobs');
CREATE INDEX jobs_ready ON jobs (kind, run_at) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (kind, locked_until) WHERE status = 'running';

-- Periodic jobs: the worker that advances a schedule's slot enqueues its job, once.
CREATE TABLE job_schedules (
    name            text PRIMARY KEY,
    last_run_at     timestamptz NOT NULL
);
