-- Failed sign-ins are counted per login as typed (in Redis, whether or not it names a
-- member), so a locked account answers exactly as an unknown login does.
ALTER TABLE users DROP COLUMN failed_logins, DROP COLUMN locked_until;
