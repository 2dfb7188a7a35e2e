-- The table of the original Next.js + Drizzle tutorial, created only when it
-- is not there already, so that a database made by that app keeps its rows.
CREATE TABLE IF NOT EXISTS user_messages (
    user_id text PRIMARY KEY NOT NULL,
    create_ts timestamp DEFAULT now() NOT NULL,
    message text NOT NULL
);
