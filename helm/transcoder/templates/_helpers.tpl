{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "transcoder.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name used for every object. */}}
{{- define "transcoder.fullname" -}}
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

{{- define "transcoder.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "transcoder.labels" -}}
helm.sh/chart: {{ include "transcoder.chart" . }}
{{ include "transcoder.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "transcoder.selectorLabels" -}}
app.kubernetes.io/name: {{ include "transcoder.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one component: "api", "worker" or "migrate". */}}
{{- define "transcoder.componentSelectorLabels" -}}
{{ include "transcoder.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "transcoder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "transcoder.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "transcoder.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding DATABASE_URL, S3 keys and the SMTP URL: the user's or ours. */}}
{{- define "transcoder.secretName" -}}
{{- if .Values.existingSecret.name }}
{{- .Values.existingSecret.name }}
{{- else }}
{{- include "transcoder.fullname" . }}
{{- end }}
{{- end }}

{{/* Fails the render early when no database is configured: api and worker pods are
separate processes, so they need a shared PostgreSQL (SQLite stays inside one pod). */}}
{{- define "transcoder.requireDatabase" -}}
{{- if and (not .Values.existingSecret.name) (not .Values.database.url) }}
{{- fail "set database.url (postgres://user:password@host:5432/db) or existingSecret.name: the api and worker Deployments share one PostgreSQL database" }}
{{- end }}
{{- if and .Values.database.url (not (hasPrefix "postgres" .Values.database.url)) }}
{{- fail "database.url must be a postgres:// or postgresql:// URL: SQLite cannot be shared between pods" }}
{{- end }}
{{- end }}

{{/* The drain grace the service is told about, and the pod's termination grace, which
must exceed it so a draining worker hands its jobs back before the SIGKILL. */}}
{{- define "transcoder.terminationGracePeriodSeconds" -}}
{{- add (int64 .Values.drain.graceSeconds) (int64 .Values.drain.shutdownMarginSeconds) }}
{{- end }}

{{/* Environment shared by the api and worker containers (and, less the config file,
the migration Job). Settings go as TRANSCODER__SECTION__KEY, which override the TOML
file from the ConfigMap; secrets come from the Secret by key. */}}
{{- define "transcoder.secretEnv" -}}
{{- $secret := include "transcoder.secretName" . }}
{{- $keys := .Values.existingSecret.keys -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.databaseUrl }}
- name: TRANSCODER__S3__ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.s3AccessKeyId }}
      optional: true
- name: TRANSCODER__S3__SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.s3SecretAccessKey }}
      optional: true
- name: TRANSCODER__SMTP__URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.smtpUrl }}
      optional: true
{{- end }}

{{- define "transcoder.env" -}}
- name: TRANSCODER_CONFIG
  value: /etc/transcoder/transcoder.toml
- name: TRANSCODER__DATA_DIR
  value: /data
- name: TRANSCODER__DATABASE__MIGRATE_ON_START
  value: {{ not .Values.migration.enabled | quote }}
- name: TRANSCODER__DATABASE__MAX_CONNECTIONS
  value: {{ int64 .Values.database.maxConnections | quote }}
- name: TRANSCODER__WORKERS__DRAIN_GRACE_SECONDS
  value: {{ int64 .Values.drain.graceSeconds | quote }}
{{- with .Values.s3.endpointUrl }}
- name: TRANSCODER__S3__ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.s3.region }}
- name: TRANSCODER__S3__REGION
  value: {{ . | quote }}
{{- end }}
- name: TRANSCODER__S3__FORCE_PATH_STYLE
  value: {{ .Values.s3.forcePathStyle | quote }}
{{- with .Values.smtp.from }}
- name: TRANSCODER__SMTP__FROM
  value: {{ . | quote }}
{{- end }}
{{ include "transcoder.secretEnv" . }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "transcoder.volumeMounts" -}}
- name: config
  mountPath: /etc/transcoder
  readOnly: true
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Volumes of a serving pod; .sizeLimit is the data (work dir) emptyDir's limit. */}}
{{- define "transcoder.volumes" -}}
- name: config
  configMap:
    name: {{ include "transcoder.fullname" .root }}
- name: data
  emptyDir:
    {{- with .root.Values.workDir.medium }}
    medium: {{ . }}
    {{- end }}
    sizeLimit: {{ .sizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.tmpDir.sizeLimit }}
{{- end }}

{{/* Pod-level fields shared by every pod the chart makes. */}}
{{- define "transcoder.podCommon" -}}
serviceAccountName: {{ include "transcoder.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Annotations that roll the pods when their settings or secrets change. */}}
{{- define "transcoder.podChecksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.existingSecret.name }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{/* A probe from values; a grpc probe without a port gets the gRPC port (grpc probes
take a number, not a port name). Arguments: root, probe. */}}
{{- define "transcoder.probe" -}}
{{- $probe := deepCopy .probe }}
{{- if and (hasKey $probe "grpc") (not (hasKey $probe.grpc "port")) }}
{{- $_ := set $probe.grpc "port" (int .root.Values.service.grpcPort) }}
{{- end }}
{{- toYaml $probe }}
{{- end }}
