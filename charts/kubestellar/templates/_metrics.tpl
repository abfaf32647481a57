{{/*
The controller containers, in the pod's order, with their ports: /metrics on metricsPort (the
binaries' defaults), /healthz and /readyz on healthPort. Port names are at most 15 characters.
*/}}
{{- define "kubestellar.controllerPorts" -}}
- name: mailbox-controller
  key: mailboxController
  metricsPort: 10203
  metricsPortName: mailbox-metrics
  healthPort: 10213
  healthPortName: mailbox-health
- name: where-resolver
  key: whereResolver
  metricsPort: 10205
  metricsPortName: where-metrics
  healthPort: 10215
  healthPortName: where-health
- name: placement-translator
  key: placementTranslator
  metricsPort: 10204
  metricsPortName: place-metrics
  healthPort: 10214
  healthPortName: place-health
{{- end }}

{{/*
Labels that pick the metrics Service out, for the ServiceMonitor.
*/}}
{{- define "kubestellar.metricsSelectorLabels" -}}
{{ include "kubestellar.selectorLabels" . }}
kubestellar.io/metrics: "true"
{{- end }}
