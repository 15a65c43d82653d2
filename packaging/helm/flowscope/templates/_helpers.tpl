{{/* Names and labels shared by every object. */}}
{{- define "flowscope.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flowscope.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "flowscope.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "flowscope.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "flowscope.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flowscope.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flowscope.labels" -}}
{{ include "flowscope.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "flowscope.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flowscope.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "flowscope.tokenSecretName" -}}
{{- default (printf "%s-token" (include "flowscope.fullname" .)) .Values.token.existingSecret -}}
{{- end -}}

{{/* The agent's config file: .Values.config with the keys the chart owns set over it. */}}
{{- define "flowscope.config" -}}
{{- $stream := dict "listen" (printf "0.0.0.0:%d" (int .Values.stream.port)) "tokenFile" "/etc/flowscope/token/token" "history" (int .Values.stream.history) "maxClientsPerIp" (int .Values.stream.maxClientsPerIp) -}}
{{- if .Values.stream.tlsSecret -}}
{{- $_ := set $stream "tlsCert" "/etc/flowscope/tls/tls.crt" -}}
{{- $_ := set $stream "tlsKey" "/etc/flowscope/tls/tls.key" -}}
{{- end -}}
{{- $owned := dict "stream" $stream "sinks" .Values.sinks "baseline" (dict "learnWindow" .Values.learnWindow "dbPath" "/var/lib/flowscope/baseline.db") "identity" (dict "procRoot" "/host/proc") -}}
{{- toYaml (mergeOverwrite (deepCopy .Values.config) $owned) -}}
{{- end -}}
