-- When the quote was last replaced. Rows written before this column existed
-- were never replaced by us, so their creation time is their update time.
ALTER TABLE user_messages ADD COLUMN update_ts timestamp;
UPDATE user_messages SET update_ts = create_ts;
ALTER TABLE user_messages
    ALTER COLUMN update_ts SET DEFAULT now(),
    ALTER COLUMN update_ts SET NOT NULL;
