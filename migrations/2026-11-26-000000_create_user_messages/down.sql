DROP TABLE IF EXISTS user_messages;
