-- esd store, version 2: alerts become an e-mail outbox (one e-mail per failure episode).
-- mail_status: 'none' (no recipients or no SMTP configured), 'pending' (to send at
-- mail_next_at), 'sent', 'failed' (gave up after the retry policy's deadline).
ALTER TABLE alerts ADD COLUMN recipients TEXT NOT NULL DEFAULT '[]';
ALTER TABLE alerts ADD COLUMN mail_status TEXT NOT NULL DEFAULT 'none'
    CHECK (mail_status IN ('none', 'pending', 'sent', 'failed'));
ALTER TABLE alerts ADD COLUMN mail_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN mail_next_at REAL;
ALTER TABLE alerts ADD COLUMN mail_error TEXT;
ALTER TABLE alerts ADD COLUMN mailed_at REAL;
CREATE INDEX alerts_mail_due ON alerts (mail_next_at) WHERE mail_status = 'pending';
