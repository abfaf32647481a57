{{/*
Labels every object of the release carries.
*/}}
{{- define "kubestellar.labels" -}}
{{ include "kubestellar.selectorLabels" . }}
{{- /* A label value starts and ends with a letter or digit; a tag may end with "." or "_". */}}
app.kubernetes.io/version: {{ regexReplaceAll "^[^A-Za-z0-9]+|[^A-Za-z0-9]+$" (include "kubestellar.tag" . | replace "+" "_" | trunc 63) "" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubestellar
{{- /* The original documents find the pod with the selector app=kubestellar. It is not in the
selector labels, which an upgrade cannot change. */}}
app: {{ .Chart.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that pick the pod out; they never change across upgrades, as a Deployment's selector
cannot.
*/}}
{{- define "kubestellar.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: core
{{- end }}

{{/*
The image tag: image.tag, or the chart's appVersion.
*/}}
{{- define "kubestellar.tag" -}}
{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
The image of one component: <registry>/<repository>/<component>:<tag>.
Takes a list: the root context and the component name.
*/}}
{{- define "kubestellar.image" -}}
{{- $ := index . 0 -}}
{{- $component := index . 1 -}}
{{- printf "%s/%s/%s:%s" $.Values.image.registry $.Values.image.repository $component (include "kubestellar.tag" $) }}
{{- end }}

{{/*
The -v of one container: componentVerbosity.<key>, else verbosity.
Takes a list: the root context and the componentVerbosity key.
*/}}
{{- define "kubestellar.verbosity" -}}
{{- $ := index . 0 -}}
{{- $key := index . 1 -}}
{{- if hasKey $.Values.componentVerbosity $key -}}
{{ index $.Values.componentVerbosity $key | int }}
{{- else -}}
{{ $.Values.verbosity | int }}
{{- end }}
{{- end }}

{{/*
The exposure in effect: exposure.type, or by default route on OpenShift and ingress elsewhere.
*/}}
{{- define "kubestellar.exposure" -}}
{{ .Values.exposure.type | default (ternary "route" "ingress" .Values.openshift) }}
{{- end }}

{{/*
The host of externalEndpoint (host:port), empty when externalEndpoint is.
*/}}
{{- define "kubestellar.externalHost" -}}
{{ regexReplaceAll ":[0-9]+$" (.Values.externalEndpoint | default "") "" }}
{{- end }}

{{/*
Checks across values that values.schema.json cannot state clearly. deployment.yaml renders
it; a failure there stops the whole release before anything is applied.
*/}}
{{- define "kubestellar.validate" -}}
{{- $exposure := include "kubestellar.exposure" . -}}
{{- $host := include "kubestellar.externalHost" . -}}
{{- $example := "e.g. kubectl kubestellar deploy --external-endpoint kubestellar.example.com:443" -}}
{{- if and (has $exposure (list "ingress" "tlsroute")) (not .Values.externalEndpoint) -}}
{{- fail (printf "exposure %s needs the host clients use to reach KubeStellar: set externalEndpoint (host:port), %s, or choose another exposure.type (route, none)" $exposure $example) -}}
{{- end -}}
{{- if and (has $exposure (list "ingress" "route" "tlsroute")) (regexMatch "^[0-9.]+$" $host) -}}
{{- fail (printf "exposure %s routes by DNS name, but externalEndpoint %q has the IP address %s: set externalEndpoint to a DNS name and port, %s, or set exposure.type to none" $exposure .Values.externalEndpoint $host $example) -}}
{{- end -}}
{{- if and .Values.etcd.tlsSecret (not .Values.etcd.endpoints) -}}
{{- fail "etcd.tlsSecret secures an external etcd, but etcd.endpoints is empty: set etcd.endpoints to the members' client URLs, e.g. --set 'etcd.endpoints={https://etcd-0.etcd:2379}', or unset etcd.tlsSecret" -}}
{{- end -}}
{{- if and (eq $exposure "tlsroute") (not .Values.exposure.tlsRoute.gateway.name) -}}
{{- fail "exposure tlsroute needs the Gateway to attach to: set exposure.tlsRoute.gateway.name (and exposure.tlsRoute.gateway.namespace when the Gateway is in another namespace), e.g. --set exposure.tlsRoute.gateway.name=my-gateway" -}}
{{- end -}}
{{- end }}
