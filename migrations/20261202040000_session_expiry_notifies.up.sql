-- A session whose expiry is brought forward is a credential change like its deletion:
-- every node hears of it (and drops what it checked before).
CREATE TRIGGER sessions_shortened AFTER UPDATE OF expires_at ON sessions
    FOR EACH ROW WHEN (NEW.expires_at < OLD.expires_at)
    EXECUTE FUNCTION notify_credentials_of_owner();
