#!/bin/sh
# Prints the web app's config.json, made from the environment, or with
# --csp the Content-Security-Policy that fits it (the app's own files and
# WebAssembly, the API, and the identity provider it talks to):
#
#   API_BASE               the API's URL, e.g. https://api.example.com (required)
#   AUTH_PROVIDER          oidc or clerk (default: clerk when
#                          CLERK_PUBLISHABLE_KEY is set, else oidc)
#   CLERK_PUBLISHABLE_KEY  clerk: the publishable key (pk_test_... / pk_live_...)
#   AUTH_ISSUER            oidc: the provider's issuer URL
#   AUTH_CLIENT_ID         oidc: the app's client id (default quotes-web)
#   AUTH_SCOPES            oidc: space-separated scopes (default "openid profile quotes:read quotes:write")
#   AUTH_AUDIENCE          oidc: optional; the first of a comma-separated list,
#                          as the API reads the same variable
#
# A missing or malformed value stops with a line naming the variable and
# prints nothing, so a container never serves a config.json the app cannot
# read. Values must be printable ASCII; `"` and `\` are escaped.
set -eu
export LC_ALL=C

fail() {
	echo "config.json: $*" >&2
	exit 1
}

# check NAME VALUE: VALUE is a usable JSON string body.
check() {
	case $2 in
	*[![:print:]]*) fail "$1 may only hold printable ASCII characters" ;;
	esac
}

# check_url NAME VALUE: VALUE is an http(s) URL.
check_url() {
	check "$1" "$2"
	case $2 in
	http://?* | https://?*) ;;
	*) fail "$1 must be an http(s) URL, not \"$2\"" ;;
	esac
}

# origin URL: the scheme and host of URL, without path, query or fragment.
origin() {
	printf '%s' "$1" | sed -e 's#^\(https\{0,1\}://[^/?#]*\).*#\1#'
}

# frontend_api KEY: the host a Clerk publishable key names
# (pk_test_/pk_live_ + base64 of "host$").
frontend_api() {
	encoded=${1#pk_test_}
	encoded=${encoded#pk_live_}
	while [ $((${#encoded} % 4)) -ne 0 ]; do
		encoded="$encoded="
	done
	host=$(printf '%s' "$encoded" | base64 -d 2>/dev/null) || fail "CLERK_PUBLISHABLE_KEY is not a Clerk publishable key"
	host=${host%\$}
	case $host in
	'' | *[!A-Za-z0-9.-]*) fail "CLERK_PUBLISHABLE_KEY is not a Clerk publishable key" ;;
	esac
	printf '%s' "$host"
}

# string VALUE: VALUE as a JSON string (checked before).
string() {
	printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

api_base=${API_BASE:-}
[ -n "$api_base" ] || fail "API_BASE is required: the API's URL, e.g. https://api.example.com"
check_url API_BASE "$api_base"

provider=${AUTH_PROVIDER:-}
if [ -z "$provider" ]; then
	if [ -n "${CLERK_PUBLISHABLE_KEY:-}" ]; then
		provider=clerk
	else
		provider=oidc
	fi
fi

case $provider in
oidc)
	issuer=${AUTH_ISSUER:-}
	[ -n "$issuer" ] || fail "AUTH_ISSUER is required for an OpenID provider (or CLERK_PUBLISHABLE_KEY for Clerk)"
	check_url AUTH_ISSUER "$issuer"
	client_id=${AUTH_CLIENT_ID:-quotes-web}
	check AUTH_CLIENT_ID "$client_id"
	scopes=${AUTH_SCOPES:-openid profile quotes:read quotes:write}
	check AUTH_SCOPES "$scopes"
	audience=${AUTH_AUDIENCE:-}
	audience=${audience%%,*}
	check AUTH_AUDIENCE "$audience"
	fields="\"kind\": \"oidc\", \"issuer\": $(string "$issuer"), \"client_id\": $(string "$client_id"), \"scopes\": $(string "$scopes")"
	if [ -n "$audience" ]; then
		fields="$fields, \"audience\": $(string "$audience")"
	fi
	;;
clerk)
	key=${CLERK_PUBLISHABLE_KEY:-}
	[ -n "$key" ] || fail "CLERK_PUBLISHABLE_KEY is required for Clerk"
	check CLERK_PUBLISHABLE_KEY "$key"
	fields="\"kind\": \"clerk\", \"publishable_key\": $(string "$key")"
	;;
*)
	fail "AUTH_PROVIDER must be oidc or clerk"
	;;
esac

if [ "${1:-}" = --csp ]; then
	common="default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'"
	api=$(origin "$api_base")
	if [ "$provider" = clerk ]; then
		# Clerk's script, API and images come from its Frontend API, and its
		# bot check from Cloudflare, as Clerk's CSP guide lists.
		fapi="https://$(frontend_api "$key")"
		printf '%s\n' "$common; script-src 'self' 'wasm-unsafe-eval' $fapi https://challenges.cloudflare.com; connect-src 'self' $api $fapi; img-src 'self' data: https://img.clerk.com; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; frame-src https://challenges.cloudflare.com"
	else
		# The token endpoint may sit on another https origin than the
		# issuer (Cognito's does), known only after discovery.
		printf '%s\n' "$common; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' $api $(origin "$issuer") https:; img-src 'self' data:; style-src 'self'"
	fi
	exit 0
fi

printf '{"api_base": %s, "provider": {%s}}\n' "$(string "$api_base")" "$fields"
