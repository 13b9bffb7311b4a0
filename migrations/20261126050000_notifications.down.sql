DROP TABLE IF EXISTS notification_settings;
DROP TABLE IF EXISTS notifications;
