{{/* The prefix of every object's name: the release name ("debuggrant" gives config/'s names). */}}
{{- define "debuggrant.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end }}

{{- define "debuggrant.labels" -}}
app.kubernetes.io/part-of: debuggrant
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "debuggrant.selectorLabels" -}}
app.kubernetes.io/name: {{ include "debuggrant.fullname" . }}-operator
{{- end }}

{{/* The operator configuration as the ConfigMap holds it: values' config, Lease in the release namespace by default, the release namespace reserved. */}}
{{- define "debuggrant.config" -}}
{{- $le := merge (dict) .Values.config.leaderElection (dict "namespace" .Release.Namespace) -}}
{{- $reserved := include "debuggrant.reservedNamespaces" . | fromYamlArray -}}
{{- toYaml (merge (dict "leaderElection" $le "reservedNamespaces" $reserved) (omit .Values.config "leaderElection" "reservedNamespaces")) -}}
{{- end }}

{{/* config.reservedNamespaces and the release namespace (the operator's own), once each. */}}
{{- define "debuggrant.reservedNamespaces" -}}
{{- toYaml (append (without (.Values.config.reservedNamespaces | default list) .Release.Namespace) .Release.Namespace) -}}
{{- end }}

{{/* A CEL list literal of strings, as src/admission/render.ts writes it. */}}
{{- define "debuggrant.celList" -}}
[{{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ toJson $s }}{{ end }}]
{{- end }}

{{/* The configurable variables of the admission policies, from config (see src/admission/render.ts), and the operator's own username (the timers policy). */}}
{{- define "debuggrant.admissionVariables" -}}
{{- $c := .Values.config -}}
breakGlassGroups: {{ include "debuggrant.celList" ($c.breakGlassGroups | default list) | quote }}
creatorUsers: {{ include "debuggrant.celList" ($c.grantCreators.users | default list) | quote }}
creatorGroups: {{ include "debuggrant.celList" ($c.grantCreators.groups | default list) | quote }}
maxTtl: {{ toJson ($c.maxTtl | default "4h") | quote }}
approvedRegistries: {{ include "debuggrant.celList" (required "config.approvedRegistries is required" $c.approvedRegistries) | quote }}
allowedProfiles: {{ include "debuggrant.celList" ($c.allowedProfiles | default (list "baseline" "restricted" "netadmin")) | quote }}
{{- $sessionImages := $c.sessionImages | default (list (dict "image" "" "command" (list "sh"))) }}
sessionCommands: {{ include "debuggrant.sessionCommands" $sessionImages | quote }}
{{- $unbounded := list }}
{{- range $e := $sessionImages }}{{ if eq ($e.wrapper | default "timeout") "none" }}{{ $unbounded = append $unbounded $e.image }}{{ end }}{{ end }}
unboundedImages: {{ include "debuggrant.celList" $unbounded | quote }}
execWrapper: {{ toJson ($c.execWrapper | default "timeout") | quote }}
reservedNamespaces: {{ include "debuggrant.celList" (include "debuggrant.reservedNamespaces" . | fromYamlArray) | quote }}
operatorUsers: {{ include "debuggrant.celList" (list (printf "system:serviceaccount:%s:%s-operator" .Release.Namespace (include "debuggrant.fullname" .))) | quote }}
{{- end }}

{{/* The CEL map image prefix -> default command of the sessionImages that can be wrapped (see src/admission/render.ts). */}}
{{- define "debuggrant.sessionCommands" -}}
{{- $entries := list -}}
{{- range $e := . }}{{ if ne ($e.wrapper | default "timeout") "none" }}{{ $entries = append $entries (printf "%s: %s" (toJson $e.image) (include "debuggrant.celList" ($e.command | default list))) }}{{ end }}{{ end -}}
{{ printf "{%s}" (join ", " $entries) }}
{{- end }}

{{/*
The YAML documents of a file under files/ (links to the repository's config/), parsed.
Call with (dict "root" $ "file" "rbac/operator.yaml"); renders a YAML list of objects.
*/}}
{{- define "debuggrant.documents" -}}
{{- $docs := list -}}
{{- range $text := regexSplit "(?m)^---[ \t]*$" (.root.Files.Get (printf "files/%s" .file)) -1 -}}
{{- $obj := fromYaml $text -}}
{{- if hasKey $obj "Error" }}{{ fail (printf "files/%s: %s" $.file $obj.Error) }}{{ end -}}
{{- if $obj.kind }}{{ $docs = append $docs $obj }}{{ end -}}
{{- end -}}
{{- toYaml $docs -}}
{{- end }}

{{/* The rules of one Role/ClusterRole in a files/rbac file: (dict "root" $ "file" ... "name" ...). */}}
{{- define "debuggrant.rules" -}}
{{- $found := list -}}
{{- range $obj := include "debuggrant.documents" . | fromYamlArray -}}
{{- if and (has $obj.kind (list "Role" "ClusterRole")) (eq $obj.metadata.name $.name) }}{{ $found = $obj.rules }}{{ end -}}
{{- end -}}
{{- if not $found }}{{ fail (printf "files/%s has no role %s" .file .name) }}{{ end -}}
{{- toYaml $found -}}
{{- end }}

{{/* RBAC subjects from lists of users and groups. */}}
{{- define "debuggrant.subjects" -}}
{{- range .users }}
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: {{ toJson . }}}
{{- end }}
{{- range .groups }}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: {{ toJson . }}}
{{- end }}
{{- end }}

{{/* The port number of a bind address such as ":8443" or "127.0.0.1:8443". */}}
{{- define "debuggrant.port" -}}
{{- regexFind "[0-9]+$" . -}}
{{- end }}

{{- define "debuggrant.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest }}{{ printf "%s@%s" .Values.image.repository .Values.image.digest }}{{ else }}{{ printf "%s:%s" .Values.image.repository $tag }}{{ end -}}
{{- end }}
