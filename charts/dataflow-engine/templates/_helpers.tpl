{{/*
Chart name, at most 63 characters (a DNS label).
*/}}
{{- define "dataflow-engine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: fullnameOverride, else the release name if it contains the chart name,
else release-chart. At most 63 characters; the -operator / -engine suffixes below are cut from it.
*/}}
{{- define "dataflow-engine.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "dataflow-engine.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels. app.kubernetes.io/part-of is what the ServiceMonitor selects.
*/}}
{{- define "dataflow-engine.labels" -}}
helm.sh/chart: {{ include "dataflow-engine.chart" . }}
{{ include "dataflow-engine.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "dataflow-engine.name" . }}
{{- end }}

{{/*
Selector labels of the operator's pods: immutable once installed.
*/}}
{{- define "dataflow-engine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dataflow-engine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
ServiceAccount of the operator.
*/}}
{{- define "dataflow-engine.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-operator" (include "dataflow-engine.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
ServiceAccount of the engine pods the operator creates.
*/}}
{{- define "dataflow-engine.engineServiceAccountName" -}}
{{- if .Values.engineServiceAccount.create }}
{{- default (printf "%s-engine" (include "dataflow-engine.fullname" .)) .Values.engineServiceAccount.name }}
{{- else }}
{{- required "engineServiceAccount.name is required when engineServiceAccount.create is false" .Values.engineServiceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image, tag defaulting to the chart's appVersion.
*/}}
{{- define "dataflow-engine.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
