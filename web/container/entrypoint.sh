#!/bin/sh
# Writes config.json from the environment (see config-json), and the
# Content-Security-Policy that fits it, then starts the server. A bad
# setting stops the container here, with the variable's name.
set -eu
config-json >/run/quotes-web/config.json
CONTENT_SECURITY_POLICY=$(config-json --csp)
export CONTENT_SECURITY_POLICY
exec "$@"
