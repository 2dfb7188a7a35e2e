-- The statement `PUT /me/quote` runs, for one of the benchmark's users at
-- random: the database's own speed for the API's write, one user per
-- statement (the API sends the quotes of concurrent requests together). A
-- test in api/core/src/store.rs keeps it the very statement the API sends.
\set n random(0, :users - 1)
INSERT INTO user_messages (user_id, message, create_ts, update_ts)
SELECT saved.user_id, saved.message, timezone('UTC', now()), timezone('UTC', now())
FROM unnest(ARRAY['user_2bench' || lpad(:n::text, 20, '0')]::text[],
            ARRAY['The benchmark''s seed quote.']::text[]) AS saved (user_id, message)
ON CONFLICT (user_id) DO UPDATE
SET message = excluded.message, update_ts = timezone('UTC', now())
RETURNING "user_messages"."user_id", "user_messages"."message", "user_messages"."create_ts",
          "user_messages"."update_ts", xmax = 0;
