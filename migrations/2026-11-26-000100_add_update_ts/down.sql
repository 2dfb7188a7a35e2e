ALTER TABLE user_messages DROP COLUMN update_ts;
