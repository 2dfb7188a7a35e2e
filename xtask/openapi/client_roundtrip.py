"""A third-party client, generated from openapi.yaml by openapi-python-client,
against a running API: PUT, GET, DELETE, a refused quote and a read-only
token refused a write, with typed Quote and Problem bodies."""

import os

from quotes_api_client import AuthenticatedClient
from quotes_api_client.api.quotes import delete_quote, get_quote, put_quote
from quotes_api_client.models import Problem, Quote, SaveQuote

client = AuthenticatedClient(base_url=os.environ["QUOTES_URL"], token=os.environ["QUOTES_TOKEN"])
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise SystemExit(f"python client: {what}")
    checks += 1


created = put_quote.sync_detailed(client=client, body=SaveQuote(quote="  Made by a generated client.  "))
check(created.status_code == 201, f"PUT answered {created.status_code}")
check(isinstance(created.parsed, Quote), "PUT did not return a Quote")
check(created.parsed.quote == "Made by a generated client.", "the quote was not trimmed")

replaced = put_quote.sync_detailed(client=client, body=SaveQuote(quote="Replaced, in Python."))
check(replaced.status_code == 200, f"second PUT answered {replaced.status_code}")
check(replaced.parsed.created_at == created.parsed.created_at, "created_at moved")

fetched = get_quote.sync(client=client)
check(isinstance(fetched, Quote) and fetched.quote == "Replaced, in Python.", "GET returned another quote")

too_long = put_quote.sync_detailed(client=client, body=SaveQuote(quote="x" * 1001))
check(too_long.status_code == 422, f"1001 characters answered {too_long.status_code}")
check(isinstance(too_long.parsed, Problem), "the 422 body is not a Problem")
check(too_long.parsed.type_ == "urn:quotes:problem:invalid-quote", f"problem type {too_long.parsed.type_}")
check("1001" in too_long.parsed.detail, "the problem does not say what was wrong")

reader = AuthenticatedClient(base_url=os.environ["QUOTES_URL"], token=os.environ["QUOTES_READ_TOKEN"])
read_back = get_quote.sync(client=reader)
check(isinstance(read_back, Quote), "the read-only token could not read")
forbidden = put_quote.sync_detailed(client=reader, body=SaveQuote(quote="Not mine to write."))
check(forbidden.status_code == 403, f"the read-only token's PUT answered {forbidden.status_code}")
check(isinstance(forbidden.parsed, Problem), "the 403 body is not a Problem")
check(forbidden.parsed.type_ == "urn:quotes:problem:insufficient-scope", f"problem type {forbidden.parsed.type_}")
check(forbidden.parsed.missing_scopes == ["quotes:write"], f"missing scopes {forbidden.parsed.missing_scopes}")
check(
    'error="insufficient_scope"' in forbidden.headers.get("www-authenticate", ""),
    f"challenge {forbidden.headers.get('www-authenticate')}",
)

deleted = delete_quote.sync_detailed(client=client)
check(deleted.status_code == 204, f"DELETE answered {deleted.status_code}")
gone = get_quote.sync_detailed(client=client)
check(gone.status_code == 404 and isinstance(gone.parsed, Problem), "the quote is still there")

print(f"python client: {checks} checks passed")
