#!/bin/sh
# Writes config.json from the environment (see config-json), then starts the
# server. A bad setting stops the container here, with the variable's name.
set -eu
config-json >/run/quotes-web/config.json
exec "$@"
