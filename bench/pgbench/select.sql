-- The statement `GET /me/quote` runs, for one of the benchmark's users at
-- random: the database's own speed for the API's read, one user per
-- statement (the API sends the users of concurrent requests together). A
-- test in api/core/src/store.rs keeps it the very statement the API sends.
\set n random(0, :users - 1)
SELECT "user_messages"."user_id", "user_messages"."message", "user_messages"."create_ts",
       "user_messages"."update_ts"
FROM "user_messages"
WHERE "user_messages"."user_id" = ANY(ARRAY['user_2bench' || lpad(:n::text, 20, '0')]::text[]);
