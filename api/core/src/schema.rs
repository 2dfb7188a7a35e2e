// @generated automatically by Diesel CLI.

diesel::table! {
    user_messages (user_id) {
        user_id -> Text,
        create_ts -> Timestamp,
        message -> Text,
        update_ts -> Timestamp,
    }
}
