"""What the adapters show people: text and CSV (`render`), Slack Block Kit (`blocks`), audit
packets (`packet`, with its template and font). Imports `service/` and `billing/` only."""
