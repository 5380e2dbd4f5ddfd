"""What the adapters are configured with: the environment's settings (`settings`), the one
Slack client factory (`slack_client`) and the request body limit (`limits`). Imports nothing
of `service/` or `store/`: the composition root turns settings into the service's policy."""
