-- Open WebSockets follow their credential: whenever a session or API key goes, or a
-- member's standing changes (role, suspension, password, email, deletion), Postgres
-- notifies every node (`LISTEN credentials`) in the same commit, whichever code path
-- made the change: the API, a moderator, the worker or an operator command.
CREATE FUNCTION notify_credentials_of_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('credentials', OLD.user_id::text);
    RETURN NULL;
END $$;

CREATE FUNCTION notify_credentials_of_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('credentials', NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_ended AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_credentials_of_owner();
CREATE TRIGGER api_keys_revoked AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION notify_credentials_of_owner();
CREATE TRIGGER users_standing_changed AFTER UPDATE ON users
    FOR EACH ROW
    WHEN (OLD.role IS DISTINCT FROM NEW.role
       OR OLD.suspended_reason IS DISTINCT FROM NEW.suspended_reason
       OR OLD.password_hash IS DISTINCT FROM NEW.password_hash
       OR OLD.email IS DISTINCT FROM NEW.email
       OR OLD.email_confirmed_at IS DISTINCT FROM NEW.email_confirmed_at
       OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION notify_credentials_of_user();
