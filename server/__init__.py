"""dupeless' REST API: a Starlette app, one module per resource."""
