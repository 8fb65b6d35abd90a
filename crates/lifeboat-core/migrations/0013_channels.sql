-- Notification channels beside the desktop: e-mail over SMTP and chat
-- webhooks. `destination` is the channel's JSON (kind, URL, format,
-- addresses; never a password: that is in the keychain), `routes` the
-- comma-separated kinds of events it receives.
CREATE TABLE channels (
    name TEXT PRIMARY KEY NOT NULL,
    destination TEXT NOT NULL,
    routes TEXT NOT NULL,
    created_at TEXT NOT NULL
);
