-- The statement `GET /me/quote` runs, for one of the benchmark's users at
-- random: the database's own speed for the API's read.
\set n random(0, :users - 1)
SELECT message, create_ts, update_ts FROM user_messages
WHERE user_id = 'user_2bench' || lpad(:n::text, 20, '0') LIMIT 1;
