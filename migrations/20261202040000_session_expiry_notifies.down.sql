DROP TRIGGER sessions_shortened ON sessions;
