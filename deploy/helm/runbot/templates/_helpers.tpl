{{- define "runbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "runbot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "runbot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "runbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "runbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "runbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "runbot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The chart's Secret: created for the values under secrets and for postgres.url. */}}
{{- define "runbot.secretName" -}}
{{- include "runbot.fullname" . }}
{{- end }}

{{/* secretEnv maps values under secrets to the environment variables runbot reads. */}}
{{- define "runbot.secretEnv" -}}
RUNBOT_INTAKE_TOKEN: intakeToken
RUNBOT_SLACK_BOT_TOKEN: slackBotToken
RUNBOT_SLACK_APP_TOKEN: slackAppToken
RUNBOT_SLACK_SIGNING_SECRET: slackSigningSecret
RUNBOT_MATTERMOST_TOKEN: mattermostToken
RUNBOT_MATTERMOST_COMMAND_TOKENS: mattermostCommandTokens
RUNBOT_OIDC_CLIENT_SECRET: oidcClientSecret
RUNBOT_LLM_API_KEY: llmApiKey
{{- end }}

{{/* createSecret says whether the chart's Secret has anything to hold. */}}
{{- define "runbot.createSecret" -}}
{{- $tokens := and (not .Values.secrets.existingSecret) (or .Values.secrets.intakeToken .Values.secrets.slackBotToken .Values.secrets.slackAppToken .Values.secrets.slackSigningSecret .Values.secrets.mattermostToken .Values.secrets.mattermostCommandTokens .Values.secrets.oidcClientSecret .Values.secrets.llmApiKey) }}
{{- $db := and .Values.postgres.enabled (not .Values.postgres.existingSecret) .Values.postgres.url }}
{{- if or $tokens $db }}true{{ end }}
{{- end }}

{{/* checks fails the release on a setup that cannot work or would leak. */}}
{{- define "runbot.checks" -}}
{{- if and (not .Values.postgres.enabled) (ne (int .Values.replicaCount) 1) }}
{{- fail "replicaCount must be 1 with SQLite: a SQLite database belongs to one runbot; set postgres.enabled for several replicas" }}
{{- end }}
{{- if and .Values.postgres.enabled (not .Values.postgres.url) (not .Values.postgres.existingSecret) }}
{{- fail "postgres.enabled needs postgres.url or postgres.existingSecret" }}
{{- end }}
{{- if and .Values.postgres.url (not (regexMatch "^postgres(ql)?://" .Values.postgres.url)) }}
{{- fail "postgres.url must start with postgres:// or postgresql://" }}
{{- end }}
{{- $delay := int .Values.shutdownDelaySeconds }}
{{- if or (lt $delay 0) (gt $delay 60) }}
{{- fail "shutdownDelaySeconds must be from 0 to 60" }}
{{- end }}
{{- if lt (int .Values.terminationGracePeriodSeconds) (add $delay 15) }}
{{- fail (printf "terminationGracePeriodSeconds must be at least shutdownDelaySeconds + 15 (%d): runbot drains requests for up to 10 s and finishes a chat message within 5 s after its shutdown delay" (add $delay 15)) }}
{{- end }}
{{- range $key := list "db" "listen" "shutdown_delay" "intake_token" "slack_bot_token" "slack_app_token" "slack_signing_secret" "mattermost_token" "mattermost_command_tokens" "llm_api_key" "oidc_client_secret" }}
{{- if hasKey $.Values.config $key }}
{{- fail (printf "config.%s is set by the chart or is a secret: use postgres.* or secrets.* instead (a ConfigMap is readable by anyone who can read the namespace's config)" $key) }}
{{- end }}
{{- end }}
{{- with .Values.config.llm }}
{{- if hasKey . "api_key" }}
{{- fail "config.llm.api_key is a secret: use secrets.llmApiKey" }}
{{- end }}
{{- end }}
{{- with .Values.config.oidc }}
{{- if hasKey . "client_secret" }}
{{- fail "config.oidc.client_secret is a secret: use secrets.oidcClientSecret" }}
{{- end }}
{{- end }}
{{- end }}
