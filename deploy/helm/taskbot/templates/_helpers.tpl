{{/* taskbot.name is the chart name, or nameOverride. */}}
{{- define "taskbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* taskbot.fullname names the release's objects: the release name, with the chart name unless it
already contains it; at most 54 characters, so that "-headless" still fits in 63. */}}
{{- define "taskbot.fullname" -}}
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

{{/* taskbot.selectorLabels select the pod; they never change for a release (a StatefulSet's
selector is immutable). */}}
{{- define "taskbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* taskbot.labels go on every object. */}}
{{- define "taskbot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "taskbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* taskbot.serviceAccountName is the ServiceAccount the pod runs as. */}}
{{- define "taskbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "taskbot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* taskbot.secretName is the Secret the credentials come from: existingSecret, or the chart's. */}}
{{- define "taskbot.secretName" -}}
{{- default (include "taskbot.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* taskbot.secretKeys are the Secret's keys the container reads, by mode. */}}
{{- define "taskbot.secretKeys" -}}
{{- if .Values.socketMode -}}
ACRONIS_CLIENT_ID ACRONIS_CLIENT_SECRET SLACK_BOT_TOKEN SLACK_APP_TOKEN
{{- else -}}
ACRONIS_CLIENT_ID ACRONIS_CLIENT_SECRET SLACK_BOT_TOKEN SLACK_SIGNING_SECRET
{{- end -}}
{{- end }}

{{/* taskbot.validate fails the render with every problem of the values at once, as taskbot itself
reports its configuration (nothing is printed of a secret's value). */}}
{{- define "taskbot.validate" -}}
{{- $problems := list }}
{{- range $name := list "ACRONIS_URL" "SLACK_CHANNEL" }}
{{- if not (index $.Values.config $name) }}
{{- $problems = append $problems (printf "config.%s is required" $name) }}
{{- end }}
{{- end }}
{{- range $name := list "TASKBOT_LISTEN_ADDR" "TASKBOT_DB_PATH" "TMPDIR" "GOMEMLIMIT" }}
{{- if hasKey $.Values.config $name }}
{{- $problems = append $problems (printf "config.%s is set by the chart (containerPort, the volume at /data, the writable /tmp, 90%% of resources.limits.memory); remove it" $name) }}
{{- end }}
{{- end }}
{{- with .Values.config.SLACK_CHANNEL }}
{{- if not (regexMatch "^[CG][A-Z0-9]{8,}$" (toString .)) }}
{{- $problems = append $problems "config.SLACK_CHANNEL must be a channel ID such as C0123456789 (in Slack: the channel's details, About tab, at the bottom), not a name" }}
{{- end }}
{{- end }}
{{- if not (kindIs "map" .Values.resources) }}
{{- $problems = append $problems "resources must be a map (requests, limits); to set none, give resources: {}" }}
{{- end }}
{{- range $name, $value := .Values.config }}
{{- if hasKey $.Values.secrets $name }}
{{- $problems = append $problems (printf "config.%s is a credential: put it under secrets (or into existingSecret)" $name) }}
{{- end }}
{{- end }}
{{- if not .Values.existingSecret }}
{{- range $name := splitList " " (include "taskbot.secretKeys" .) }}
{{- if not (index $.Values.secrets $name) }}
{{- $problems = append $problems (printf "secrets.%s is required (or name a Secret holding it in existingSecret)" $name) }}
{{- end }}
{{- end }}
{{- if and (not .Values.socketMode) .Values.secrets.SLACK_APP_TOKEN }}
{{- $problems = append $problems "secrets.SLACK_APP_TOKEN is set but socketMode is false: set socketMode: true for Socket Mode, or remove the token for HTTP mode" }}
{{- end }}
{{- end }}
{{- if and .Values.socketMode .Values.ingress.enabled }}
{{- $problems = append $problems "ingress.enabled needs HTTP mode: in Socket Mode Slack reaches taskbot over its own WebSocket" }}
{{- end }}
{{- if not (regexMatch "^[0-9]+$" (toString .Values.terminationGracePeriodSeconds)) }}
{{- $problems = append $problems (printf "terminationGracePeriodSeconds %q is not a whole number of seconds" (toString .Values.terminationGracePeriodSeconds)) }}
{{- else if le (int .Values.terminationGracePeriodSeconds) 10 }}
{{- $problems = append $problems "terminationGracePeriodSeconds must be over 10: taskbot takes up to 10 s to finish its answers and the post in flight" }}
{{- end }}
{{- if $problems }}
{{- fail (printf "\n  %s" (join "\n  " $problems)) }}
{{- end }}
{{- end }}
