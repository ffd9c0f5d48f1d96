"""What both services (the exporter and the remediator) share that is not about the cluster:
configuration plumbing, metric declarations and logging."""
