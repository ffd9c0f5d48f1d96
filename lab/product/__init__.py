"""The cfha product on the lab: `make demo`, the e2e tests' stack and the alert-rule tooling.

Beside the cluster (`lab`), which never imports it: `stack` runs cfha in the hubs and Prometheus,
Alertmanager and a webhook sink on 127.0.0.1 (`promstack`, `webhook_sink`), configured by
`stackconfig`, `amconfig` and the lab copy of the rules (`promrules`); `demo` is `make demo`.
"""
