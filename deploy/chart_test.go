package deploy_test

import (
	"encoding/base64"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/taskbot/taskbot/deploy/grafana"
)

const (
	chartDir    = "helm/taskbot"
	releaseName = "taskbot"
	namespace   = "ops"
	fullname    = "taskbot" // the release name contains the chart name
)

var printManifests = flag.Bool("print", false, "print the manifests the chart tests render (helm template)")

// The credentials of the test values: distinctive, so that any trace of one in a rendered
// manifest is found.
var testSecrets = map[string]string{
	"ACRONIS_CLIENT_ID":     "acronis-client-id-5d1c0e7a",
	"ACRONIS_CLIENT_SECRET": "acronis-client-secret-9b8f44e2",
	"SLACK_BOT_TOKEN":       "xoxb-bot-token-30c8b1f6",
	"SLACK_SIGNING_SECRET":  "signing-secret-7e2a9d10",
	"SLACK_APP_TOKEN":       "xapp-app-token-c4f1a8b3",
}

// httpValues are the smallest values of an install in HTTP mode: the required settings and the
// credentials it uses.
func httpValues() map[string]any {
	secrets := map[string]any{}
	for _, k := range []string{"ACRONIS_CLIENT_ID", "ACRONIS_CLIENT_SECRET", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} {
		secrets[k] = testSecrets[k]
	}
	return map[string]any{
		"config":  map[string]any{"ACRONIS_URL": "https://eu2-cloud.acronis.com", "SLACK_CHANNEL": "C0123456789"},
		"secrets": secrets,
	}
}

// socketValues are the smallest values of an install in Socket Mode.
func socketValues() map[string]any {
	v := httpValues()
	v["socketMode"] = true
	s := v["secrets"].(map[string]any)
	delete(s, "SLACK_SIGNING_SECRET")
	s["SLACK_APP_TOKEN"] = testSecrets["SLACK_APP_TOKEN"]
	return v
}

// existingSecretValues name a Secret of the user's; the credentials given anyway must be ignored.
func existingSecretValues() map[string]any {
	v := httpValues()
	v["existingSecret"] = "taskbot-credentials"
	return v
}

// allOnValues switch on every optional object: Ingress, ServiceMonitor, PrometheusRule, the
// dashboard's ConfigMap, NetworkPolicy.
func allOnValues() map[string]any {
	v := httpValues()
	v["ingress"] = map[string]any{"enabled": true, "className": "nginx", "host": "taskbot.example.org",
		"tls": []any{map[string]any{"secretName": "taskbot-tls", "hosts": []any{"taskbot.example.org"}}}}
	v["serviceMonitor"] = map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus-stack"}}
	v["prometheusRule"] = map[string]any{"enabled": true, "runbookBaseURL": "https://git.example.org/ops/taskbot/-/blob/main/"}
	v["grafanaDashboard"] = map[string]any{"enabled": true}
	v["networkPolicy"] = map[string]any{"enabled": true}
	return v
}

// manifests is a rendered chart: the `helm template` text and each object decoded into its
// Kubernetes (or Prometheus Operator) type.
type manifests struct {
	text    string
	objects []object
}

type object struct {
	kind, name string
	source     string // the document's text
	value      any    // *appsv1.StatefulSet, *corev1.Secret, …
}

// kinds are the types the chart may render, by apiVersion and kind; any other fails the test.
var kinds = map[string]func() any{
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

// render renders the chart as `helm template taskbot deploy/helm/taskbot -n ops` does with
// these values (validated against values.schema.json when there is one), and decodes every
// object strictly: a field its type does not have is an error.
func render(t *testing.T, values map[string]any) (*manifests, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(ch, values, opts, chartutil.DefaultCapabilities, false)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	_, sorted, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{}
	var text strings.Builder
	for _, doc := range sorted {
		fmt.Fprintf(&text, "---\n# Source: %s\n%s\n", doc.Name, doc.Content)
		key := doc.Head.Version + "/" + doc.Head.Kind
		newObj, ok := kinds[key]
		if !ok {
			t.Fatalf("%s: %s is not a kind the chart is expected to render", doc.Name, key)
		}
		obj := newObj()
		if err := sigsyaml.UnmarshalStrict([]byte(doc.Content), obj); err != nil {
			t.Fatalf("%s: %s does not decode strictly: %v\n%s", doc.Name, key, err, doc.Content)
		}
		m.objects = append(m.objects, object{kind: doc.Head.Kind, name: doc.Head.Metadata.Name, source: doc.Content, value: obj})
	}
	m.text = text.String()
	if *printManifests {
		fmt.Println(m.text)
	}
	return m, nil
}

// mustRender renders values that must render.
func mustRender(t *testing.T, values map[string]any) *manifests {
	t.Helper()
	m, err := render(t, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return m
}

// get returns the object of that kind and name, or nil.
func (m *manifests) get(kind, name string) any {
	for _, o := range m.objects {
		if o.kind == kind && o.name == name {
			return o.value
		}
	}
	return nil
}

// names lists the objects as Kind/name.
func (m *manifests) names() []string {
	var out []string
	for _, o := range m.objects {
		out = append(out, o.kind+"/"+o.name)
	}
	slices.Sort(out)
	return out
}

func (m *manifests) statefulSet(t *testing.T) *appsv1.StatefulSet {
	t.Helper()
	s, ok := m.get("StatefulSet", fullname).(*appsv1.StatefulSet)
	if !ok {
		t.Fatalf("no StatefulSet %s; rendered %v", fullname, m.names())
	}
	return s
}

// envOf maps the container's environment variable names to their entries.
func envOf(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// TestChartRenders renders the chart for the three ways to install it, and for all its options
// switched on, and checks what each must hold.
func TestChartRenders(t *testing.T) {
	bound := shutdownBound(t)
	cases := []struct {
		name   string
		values map[string]any
		want   []string // the objects, Kind/name
		secret string   // the Secret the credentials come from
		keys   []string // the credentials the container reads
	}{
		{name: "HTTP mode with default values", values: httpValues(),
			want:   []string{"Secret/taskbot", "Service/taskbot", "Service/taskbot-headless", "ServiceAccount/taskbot", "StatefulSet/taskbot"},
			secret: "taskbot", keys: []string{"ACRONIS_CLIENT_ID", "ACRONIS_CLIENT_SECRET", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}},
		{name: "Socket Mode", values: socketValues(),
			want:   []string{"Secret/taskbot", "Service/taskbot-headless", "ServiceAccount/taskbot", "StatefulSet/taskbot"},
			secret: "taskbot", keys: []string{"ACRONIS_CLIENT_ID", "ACRONIS_CLIENT_SECRET", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}},
		{name: "existingSecret", values: existingSecretValues(),
			want:   []string{"Service/taskbot", "Service/taskbot-headless", "ServiceAccount/taskbot", "StatefulSet/taskbot"},
			secret: "taskbot-credentials", keys: []string{"ACRONIS_CLIENT_ID", "ACRONIS_CLIENT_SECRET", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}},
		{name: "every option on", values: allOnValues(),
			want: []string{"ConfigMap/taskbot-dashboard", "Ingress/taskbot", "NetworkPolicy/taskbot", "PrometheusRule/taskbot", "Secret/taskbot",
				"Service/taskbot", "Service/taskbot-headless", "ServiceAccount/taskbot", "ServiceMonitor/taskbot", "StatefulSet/taskbot"},
			secret: "taskbot", keys: []string{"ACRONIS_CLIENT_ID", "ACRONIS_CLIENT_SECRET", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := mustRender(t, tc.values)
			if got := m.names(); !slices.Equal(got, tc.want) {
				t.Errorf("objects %v, want %v", got, tc.want)
			}
			sts := m.statefulSet(t)
			checkStatefulSet(t, m, sts, bound)
			checkSecrets(t, m, sts, tc.secret, tc.keys)
			checkServices(t, m, sts)
		})
	}
}

// checkStatefulSet: one replica on a volume of its own, probes, security, shutdown time.
func checkStatefulSet(t *testing.T, m *manifests, sts *appsv1.StatefulSet, bound time.Duration) {
	t.Helper()
	spec := sts.Spec
	if spec.Replicas == nil || *spec.Replicas != 1 {
		t.Errorf("replicas %v, want exactly 1 (one bbolt writer)", spec.Replicas)
	}
	if spec.PodManagementPolicy != appsv1.OrderedReadyPodManagement {
		t.Errorf("podManagementPolicy %q, want OrderedReady", spec.PodManagementPolicy)
	}
	if spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		t.Errorf("updateStrategy %q, want RollingUpdate", spec.UpdateStrategy.Type)
	}
	if headless, ok := m.get("Service", spec.ServiceName).(*corev1.Service); !ok || headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("serviceName %q is not a headless Service of the chart", spec.ServiceName)
	}
	for k, v := range spec.Selector.MatchLabels {
		if sts.Spec.Template.Labels[k] != v {
			t.Errorf("the selector's %s=%s is not a label of the pod", k, v)
		}
	}

	// The state file's volume: a PersistentVolumeClaim per pod, mounted at the DB path's directory.
	if len(spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volumeClaimTemplates, want 1", len(spec.VolumeClaimTemplates))
	}
	pvc := spec.VolumeClaimTemplates[0]
	if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("PVC access modes %v, want ReadWriteOnce only", pvc.Spec.AccessModes)
	}
	if size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; size.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("PVC size %s, want the default 1Gi", size.String())
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("PVC retention %v, want Retain when the StatefulSet is deleted", p)
	}

	pod := spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	env := envOf(c)
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm.Name
	}
	if db := env["TASKBOT_DB_PATH"].Value; filepath.Dir(db) != "/data" || mounts["/data"] != pvc.Name {
		t.Errorf("TASKBOT_DB_PATH %q, mounts %v: want the state file on the PVC %q at /data", db, mounts, pvc.Name)
	}
	var tmp *corev1.Volume
	for i, v := range pod.Volumes {
		if v.Name == mounts["/tmp"] {
			tmp = &pod.Volumes[i]
		}
	}
	if tmp == nil || tmp.EmptyDir == nil || env["TMPDIR"].Value != "/tmp" {
		t.Errorf("want an emptyDir at /tmp and TMPDIR=/tmp (the root filesystem is read-only); volumes %v", pod.Volumes)
	}

	// Probes on the port taskbot listens on.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" {
		t.Fatalf("ports %v, want one named http", c.Ports)
	}
	if want := ":" + strconv.Itoa(int(c.Ports[0].ContainerPort)); env["TASKBOT_LISTEN_ADDR"].Value != want {
		t.Errorf("TASKBOT_LISTEN_ADDR %q, want %q (the container port)", env["TASKBOT_LISTEN_ADDR"].Value, want)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe GET %s on port %s, want %s on http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	// Security: the image's non-root user, nothing writable but the volumes, no capabilities.
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 10001 ||
		ps.FSGroup == nil || *ps.FSGroup != 10001 || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v, want runAsNonRoot, uid 10001, fsGroup 10001, seccomp RuntimeDefault", ps)
	}
	cs := c.SecurityContext
	switch {
	case cs == nil:
		t.Errorf("no container securityContext")
	case cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem:
		t.Errorf("readOnlyRootFilesystem not set")
	case cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation:
		t.Errorf("allowPrivilegeEscalation not false")
	case cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want drop [ALL] and nothing added", cs.Capabilities)
	case cs.RunAsNonRoot == nil || !*cs.RunAsNonRoot || cs.RunAsUser == nil || *cs.RunAsUser != 10001:
		t.Errorf("container runs as %v, want non-root uid 10001", cs.RunAsUser)
	case cs.SeccompProfile == nil || cs.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("container seccompProfile %v, want RuntimeDefault", cs.SeccompProfile)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the service account token is mounted; taskbot never calls the Kubernetes API")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Errorf("no memory limit")
	}
	if g := env["GOMEMLIMIT"]; g.Value != "230MiB" {
		t.Errorf("GOMEMLIMIT %+v, want 90%% of the default 256Mi limit", g)
	}

	// SIGKILL only after taskbot's own shutdown bound.
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= bound {
		t.Errorf("terminationGracePeriodSeconds %v, want over taskbot's shutdown bound %v", g, bound)
	}
}

// checkSecrets: the credentials come from the Secret by secretKeyRef, and no credential appears
// anywhere else: not in an env value, a ConfigMap or any other object, not even base64-encoded.
func checkSecrets(t *testing.T, m *manifests, sts *appsv1.StatefulSet, secretName string, keys []string) {
	t.Helper()
	env := envOf(sts.Spec.Template.Spec.Containers[0])
	for _, k := range keys {
		ref := env[k].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != secretName || ref.SecretKeyRef.Key != k {
			t.Errorf("%s: %+v, want secretKeyRef %s/%s", k, env[k], secretName, k)
		}
	}
	for name, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !slices.Contains(keys, name) {
			t.Errorf("%s from the Secret, which this mode does not use", name)
		}
		for k, v := range testSecrets {
			if strings.Contains(e.Value, v) {
				t.Errorf("env %s has the value of %s", name, k)
			}
		}
	}
	var own *corev1.Secret
	for _, o := range m.objects {
		if s, ok := o.value.(*corev1.Secret); ok {
			own = s
		}
		for k, v := range testSecrets {
			if strings.Contains(o.source, v) {
				t.Errorf("%s/%s has the plain value of %s", o.kind, o.name, k)
			}
			if b64 := base64.StdEncoding.EncodeToString([]byte(v)); strings.Contains(o.source, b64) && o.kind != "Secret" {
				t.Errorf("%s/%s has the base64 value of %s", o.kind, o.name, k)
			}
		}
		if cm, ok := o.value.(*corev1.ConfigMap); ok {
			for key, data := range cm.Data {
				for k, v := range testSecrets {
					if strings.Contains(data, v) {
						t.Errorf("ConfigMap %s key %s has the value of %s", cm.Name, key, k)
					}
				}
			}
		}
	}
	annotated := sts.Spec.Template.Annotations["checksum/secret"] != ""
	if secretName == fullname {
		if own == nil || own.Name != secretName {
			t.Fatalf("no Secret %s", secretName)
		}
		for _, k := range keys {
			if string(own.Data[k]) != testSecrets[k] {
				t.Errorf("Secret %s: %s is %q, want the value given", own.Name, k, own.Data[k])
			}
		}
		if !annotated {
			t.Errorf("no checksum/secret annotation: a changed credential would not restart taskbot")
		}
	} else if own != nil || annotated {
		t.Errorf("with existingSecret the chart rendered a Secret (%v) or its checksum (%v)", own != nil, annotated)
	}
}

// checkServices: every Service and the Ingress reach the pod's http port; the ServiceMonitor
// scrapes exactly one Service; the NetworkPolicy allows only DNS and HTTPS out; the
// PrometheusRule and the dashboard are the committed files.
func checkServices(t *testing.T, m *manifests, sts *appsv1.StatefulSet) {
	t.Helper()
	podLabels := sts.Spec.Template.Labels
	selects := func(sel map[string]string, labels map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	var services []*corev1.Service
	for _, o := range m.objects {
		switch v := o.value.(type) {
		case *corev1.Service:
			services = append(services, v)
			if !selects(v.Spec.Selector, podLabels) {
				t.Errorf("Service %s selects %v, not the pod (%v)", v.Name, v.Spec.Selector, podLabels)
			}
			if len(v.Spec.Ports) != 1 || v.Spec.Ports[0].TargetPort.String() != "http" {
				t.Errorf("Service %s ports %v, want one to the http port", v.Name, v.Spec.Ports)
			}
			if !v.Spec.PublishNotReadyAddresses {
				t.Errorf("Service %s drops the pod while /readyz is 503 (a failing poll), when /tasks and /metrics are still wanted", v.Name)
			}
		case *networkingv1.Ingress:
			var paths []string
			for _, r := range v.Spec.Rules {
				for _, p := range r.HTTP.Paths {
					paths = append(paths, p.Path)
					if p.Backend.Service == nil || p.Backend.Service.Name != fullname || p.Backend.Service.Port.Name != "http" {
						t.Errorf("Ingress path %s goes to %+v, want Service %s port http", p.Path, p.Backend.Service, fullname)
					}
				}
			}
			if !slices.Equal(paths, []string{"/slack/"}) {
				t.Errorf("Ingress paths %v, want only /slack/ (health and metrics stay inside)", paths)
			}
		case *monitoringv1.ServiceMonitor:
			var scraped []string
			for _, s := range services {
				if selects(v.Spec.Selector.MatchLabels, s.Labels) {
					scraped = append(scraped, s.Name)
				}
			}
			if !slices.Equal(scraped, []string{fullname + "-headless"}) {
				t.Errorf("the ServiceMonitor selects Services %v, want only %s-headless (two would scrape taskbot twice)", scraped, fullname)
			}
			if len(v.Spec.Endpoints) != 1 || v.Spec.Endpoints[0].Port != "http" || v.Spec.Endpoints[0].Path != "/metrics" {
				t.Errorf("ServiceMonitor endpoints %+v, want /metrics on port http", v.Spec.Endpoints)
			}
		case *networkingv1.NetworkPolicy:
			var egress []string
			for _, r := range v.Spec.Egress {
				if len(r.To) > 0 {
					t.Errorf("an egress rule limited to %v", r.To)
				}
				for _, p := range r.Ports {
					egress = append(egress, fmt.Sprintf("%s/%s", p.Port.String(), *p.Protocol))
				}
			}
			slices.Sort(egress)
			if want := []string{"443/TCP", "53/TCP", "53/UDP"}; !slices.Equal(egress, want) {
				t.Errorf("NetworkPolicy egress %v, want only %v", egress, want)
			}
			if !slices.Contains(v.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || !selects(v.Spec.PodSelector.MatchLabels, podLabels) {
				t.Errorf("NetworkPolicy does not limit the pod's egress: %+v", v.Spec)
			}
		case *monitoringv1.PrometheusRule:
			checkPrometheusRule(t, v)
		case *corev1.ConfigMap:
			want, err := os.ReadFile(grafana.Files[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Data["taskbot.json"]; got != strings.TrimSuffix(string(want), "\n") {
				t.Errorf("ConfigMap %s: taskbot.json is not %s", v.Name, grafana.Files[0])
			}
		}
	}
}

// checkPrometheusRule: the PrometheusRule holds the alerts of the rules file, with the runbook
// links made absolute by runbookBaseURL.
func checkPrometheusRule(t *testing.T, pr *monitoringv1.PrometheusRule) {
	t.Helper()
	rules := loadRules(t)
	var got []monitoringv1.Rule
	for _, g := range pr.Spec.Groups {
		got = append(got, g.Rules...)
	}
	if len(got) != len(rules) {
		t.Fatalf("PrometheusRule has %d rules, the rules file %d", len(got), len(rules))
	}
	for i, r := range rules {
		g := got[i]
		var gotFor string
		if g.For != nil {
			gotFor = string(*g.For)
		}
		wantFor := r.For.String()
		if r.For == 0 {
			wantFor = ""
		}
		if g.Alert != r.Alert || g.Expr.String() != r.Expr || gotFor != wantFor {
			t.Errorf("PrometheusRule rule %d is %s %q, want %s %q", i, g.Alert, g.Expr.String(), r.Alert, r.Expr)
		}
		want := "https://git.example.org/ops/taskbot/-/blob/main/" + r.Annotations["runbook_url"]
		if g.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, g.Annotations["runbook_url"], want)
		}
		if g.Annotations["summary"] != r.Annotations["summary"] {
			t.Errorf("%s: summary %q, want %q", r.Alert, g.Annotations["summary"], r.Annotations["summary"])
		}
	}
}

// TestChartRefusesBadValues: values that cannot work fail the install with one message naming
// every problem, and no credential's value.
func TestChartRefusesBadValues(t *testing.T) {
	with := func(base map[string]any, change func(v map[string]any)) map[string]any {
		change(base)
		return base
	}
	cases := []struct {
		name   string
		values map[string]any
		want   []string
	}{
		{name: "no values at all", values: map[string]any{},
			want: []string{"config.ACRONIS_URL is required", "config.SLACK_CHANNEL is required", "secrets.ACRONIS_CLIENT_ID is required",
				"secrets.ACRONIS_CLIENT_SECRET is required", "secrets.SLACK_BOT_TOKEN is required", "secrets.SLACK_SIGNING_SECRET is required"}},
		{name: "Socket Mode without the app token", values: with(socketValues(), func(v map[string]any) {
			delete(v["secrets"].(map[string]any), "SLACK_APP_TOKEN")
		}), want: []string{"secrets.SLACK_APP_TOKEN is required"}},
		{name: "an app token in HTTP mode", values: with(httpValues(), func(v map[string]any) {
			v["secrets"].(map[string]any)["SLACK_APP_TOKEN"] = testSecrets["SLACK_APP_TOKEN"]
		}), want: []string{"secrets.SLACK_APP_TOKEN is set but socketMode is false"}},
		{name: "an Ingress in Socket Mode", values: with(socketValues(), func(v map[string]any) {
			v["ingress"] = map[string]any{"enabled": true}
		}), want: []string{"ingress.enabled needs HTTP mode"}},
		{name: "a grace period within taskbot's shutdown", values: with(httpValues(), func(v map[string]any) {
			v["terminationGracePeriodSeconds"] = 10
		}), want: []string{"terminationGracePeriodSeconds must be over 10"}},
		{name: "the variables the chart sets, and a credential under config", values: with(httpValues(), func(v map[string]any) {
			c := v["config"].(map[string]any)
			c["TASKBOT_DB_PATH"], c["TASKBOT_LISTEN_ADDR"], c["SLACK_BOT_TOKEN"] = "/tmp/x.db", ":9090", testSecrets["SLACK_BOT_TOKEN"]
		}), want: []string{"config.TASKBOT_DB_PATH is set by the chart", "config.TASKBOT_LISTEN_ADDR is set by the chart",
			"config.SLACK_BOT_TOKEN is a credential"}},
		{name: "TMPDIR and GOMEMLIMIT, which the chart sets", values: with(httpValues(), func(v map[string]any) {
			c := v["config"].(map[string]any)
			c["TMPDIR"], c["GOMEMLIMIT"] = "/var/tmp", "1GiB"
		}), want: []string{"config.TMPDIR is set by the chart", "config.GOMEMLIMIT is set by the chart"}},
		{name: "a channel name for SLACK_CHANNEL", values: with(httpValues(), func(v map[string]any) {
			v["config"].(map[string]any)["SLACK_CHANNEL"] = "#general"
		}), want: []string{"config.SLACK_CHANNEL must be a channel ID such as C0123456789"}},
		{name: "resources: null", values: with(httpValues(), func(v map[string]any) { v["resources"] = nil }),
			want: []string{"resources must be a map"}},
		{name: "a grace period that is not a number", values: with(httpValues(), func(v map[string]any) {
			v["terminationGracePeriodSeconds"] = "abc"
		}), want: []string{`terminationGracePeriodSeconds "abc" is not a whole number of seconds`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil {
				t.Fatal("rendered; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for k, v := range testSecrets {
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error shows the value of %s", k)
				}
			}
		})
	}
}

// TestChartSetsEveryVariable: every environment variable taskbot reads (`taskbot help`) can be
// set through the chart's values, and reaches the container.
func TestChartSetsEveryVariable(t *testing.T) {
	values := map[string]map[string]any{"HTTP": httpValues(), "Socket Mode": socketValues()}
	doc := valuesDoc(t)
	for _, v := range values {
		c := v["config"].(map[string]any)
		for k := range doc["config"] {
			if c[k] == nil {
				c[k] = "value-of-" + k
			}
		}
	}
	set := map[string]bool{}
	for mode, v := range values {
		sts := mustRender(t, v).statefulSet(t)
		for name, e := range envOf(sts.Spec.Template.Spec.Containers[0]) {
			set[name] = true
			if c, ok := v["config"].(map[string]any)[name]; ok && e.Value != fmt.Sprint(c) {
				t.Errorf("%s: %s=%q, want the value given, %q", mode, name, e.Value, c)
			}
		}
	}
	for _, name := range productVariables(t) {
		if !set[name] {
			t.Errorf("taskbot reads %s, which the chart never sets", name)
		}
		if _, ok := doc["config"][name]; !ok && doc["secrets"][name] == "" && name != "TASKBOT_LISTEN_ADDR" && name != "TASKBOT_DB_PATH" {
			t.Errorf("values.yaml documents %s neither under config nor under secrets", name)
		}
	}
}

// TestValuesAreDocumented: every top-level key of values.yaml and every variable under config
// and secrets has a comment; a variable's comment starts with its name.
func TestValuesAreDocumented(t *testing.T) {
	doc := valuesDoc(t)
	if len(doc["config"]) < 10 || len(doc["secrets"]) != 5 {
		t.Fatalf("values.yaml: %d config and %d secrets variables", len(doc["config"]), len(doc["secrets"]))
	}
	for section, vars := range doc {
		for name, comment := range vars {
			if section == "" {
				if comment == "" {
					t.Errorf("values.yaml: %s has no comment", name)
				}
				continue
			}
			if !strings.HasPrefix(comment, name) || len(strings.Fields(comment)) < 5 {
				t.Errorf("values.yaml: %s.%s: comment %q, want one that starts with the variable's name and says what it does", section, name, comment)
			}
		}
	}
}

// valuesDoc reads values.yaml's comments: for the top level (section "") and for config and
// secrets, each key's head comment without the #s.
func valuesDoc(t *testing.T) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	comment := func(n *yaml.Node) string {
		var lines []string
		for _, l := range strings.Split(n.HeadComment, "\n") {
			lines = append(lines, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#")))
		}
		return strings.TrimSpace(strings.Join(lines, " "))
	}
	out := map[string]map[string]string{"": {}}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		out[""][key.Value] = comment(key)
		if key.Value == "config" || key.Value == "secrets" {
			out[key.Value] = map[string]string{}
			for j := 0; j+1 < len(val.Content); j += 2 {
				out[key.Value][val.Content[j].Value] = comment(val.Content[j])
			}
		}
	}
	return out
}

// TestChartLints runs Helm's linter (helm lint) on the chart with the HTTP mode's values.
func TestChartLints(t *testing.T) {
	kube, err := chartutil.ParseKubeVersion("v1.30.0")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]map[string]any{"HTTP": httpValues(), "Socket Mode": socketValues(), "every option": allOnValues()} {
		linter := lint.AllWithKubeVersion(chartDir, v, namespace, kube)
		for _, msg := range linter.Messages {
			if msg.Severity >= support.WarningSev {
				t.Errorf("%s: helm lint: %s", name, msg)
			}
		}
	}
}

// TestDashboardFilesAreGenerated: the committed dashboard JSON is what package grafana builds.
func TestDashboardFilesAreGenerated(t *testing.T) {
	want, err := grafana.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range grafana.Files {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is not what deploy/grafana builds; run: cd deploy && go generate ./grafana", f)
		}
	}
}

// shutdownBound is the longest taskbot takes from SIGTERM to exit, from the product's own
// constants: serve.go's shutdownGrace (answers and posts in flight) and bot/server.go's
// drainNotes (answers cut short tell their users). The README promises exit within 10 s; the
// chart's check of terminationGracePeriodSeconds relies on it.
func shutdownBound(t *testing.T) time.Duration {
	t.Helper()
	bound := constDuration(t, "../serve.go", "shutdownGrace") + constDuration(t, "../bot/server.go", "drainNotes")
	if bound <= 0 || bound > 10*time.Second {
		t.Fatalf("taskbot's shutdown bound is %v; the chart (values.yaml, _helpers.tpl) and README assume at most 10s", bound)
	}
	return bound
}

// constDuration evaluates a Go constant declared as N * time.Unit in file.
func constDuration(t *testing.T, file, name string) time.Duration {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]time.Duration{"Nanosecond": time.Nanosecond, "Microsecond": time.Microsecond,
		"Millisecond": time.Millisecond, "Second": time.Second, "Minute": time.Minute, "Hour": time.Hour}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name != name || i >= len(vs.Values) {
					continue
				}
				if be, ok := vs.Values[i].(*ast.BinaryExpr); ok && be.Op == token.MUL {
					lit, ok1 := be.X.(*ast.BasicLit)
					sel, ok2 := be.Y.(*ast.SelectorExpr)
					if ok1 && ok2 && lit.Kind == token.INT {
						n, err := strconv.Atoi(lit.Value)
						if unit, known := units[sel.Sel.Name]; err == nil && known {
							return time.Duration(n) * unit
						}
					}
				}
				t.Fatalf("%s: %s is not of the form N * time.Unit; update this test", file, name)
			}
		}
	}
	t.Fatalf("%s: no constant %s; where is taskbot's shutdown bound now?", file, name)
	return 0
}
