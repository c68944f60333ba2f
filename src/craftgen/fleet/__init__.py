"""The GPU fleet, simulated: a discrete-event model (SimPy) of arrivals, workers, cold starts, spot
interruptions and the autoscaling rule read from the shipped Kubernetes manifests (deploy/k8s), so
the rule simulated is the rule deployed. `craftgen fleet simulate` runs it and writes a policy
table and plots. Nothing here imports the service: it reads YAML and CSV and does arithmetic."""
