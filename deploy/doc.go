// Package deploy holds what runbot is deployed with, outside its binary:
// the container image's build (../Containerfile, image/build), the Helm
// chart (helm/runbot), the systemd unit (systemd), Prometheus's alerting
// rules (prometheus) and a Grafana dashboard (grafana). It has no code of
// its own; its tests build and run each of them against the real tools:
// podman, helm, the schema validator in kubeschema, systemd-analyze and
// promtool.
package deploy
