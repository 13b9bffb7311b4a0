DROP TABLE thread_subscriptions;
DROP TABLE notification_mail_queue;
ALTER TABLE notifications DROP COLUMN emailed_at;
ALTER TABLE notification_settings
    DROP COLUMN email_kinds, DROP COLUMN weekly_digest, DROP COLUMN time_zone,
    DROP COLUMN last_digest_at;
