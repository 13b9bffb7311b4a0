DROP TRIGGER IF EXISTS users_standing_changed ON users;
DROP TRIGGER IF EXISTS api_keys_revoked ON api_keys;
DROP TRIGGER IF EXISTS sessions_ended ON sessions;
DROP FUNCTION IF EXISTS notify_credentials_of_user();
DROP FUNCTION IF EXISTS notify_credentials_of_owner();
