"""The tools on top of citywatch: the `citywatch` command (`cli/`), the local stack (`devstack/`), the benchmarks
(`bench/`), the plan evaluation report (`report/`), and the builders of the Grafana dashboards
(`dashboard_builder/`) and the Kubernetes manifests (`manifests/`)."""
