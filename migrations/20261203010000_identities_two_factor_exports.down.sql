DROP TABLE IF EXISTS data_exports;
DROP TABLE IF EXISTS login_challenges;
DROP TABLE IF EXISTS recovery_codes;
ALTER TABLE users
    DROP COLUMN IF EXISTS totp_pending_secret,
    DROP COLUMN IF EXISTS totp_secret,
    DROP COLUMN IF EXISTS totp_enabled_at,
    DROP COLUMN IF EXISTS totp_last_step;
DROP TABLE IF EXISTS identity_link_grants;
DROP TABLE IF EXISTS oauth_flows;
DROP TABLE IF EXISTS identities;
ALTER TABLE sessions DROP COLUMN IF EXISTS second_factor, DROP COLUMN IF EXISTS method;
