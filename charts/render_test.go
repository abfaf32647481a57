package charts_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/charts"
)

const (
	releaseName = "kubestellar"
	namespace   = "ks-system"
	endpoint    = "kubestellar.example.com:443"
	host        = "kubestellar.example.com"
	stateDir    = "/var/lib/kubestellar"
)

var containerNames = []string{"space-server", "init", "mailbox-controller", "where-resolver", "placement-translator"}

// rendered is what `helm install` would apply: the objects by "Kind/name", and the notes.
type rendered struct {
	docs  map[string]string
	objs  map[string]*unstructured.Unstructured
	notes string
}

// render installs the embedded chart in client-only dry-run mode, the way `helm template`
// does: the values are checked against values.schema.json and the templates are rendered.
func render(t *testing.T, vals map[string]any) (*rendered, error) {
	t.Helper()
	chrt, err := charts.Load()
	require.NoError(t, err)
	install := action.NewInstall(&action.Configuration{Log: t.Logf})
	install.DryRun = true
	install.ClientOnly = true
	install.ReleaseName = releaseName
	install.Namespace = namespace
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return nil, err
	}
	out := &rendered{docs: map[string]string{}, objs: map[string]*unstructured.Unstructured{}, notes: rel.Info.Notes}
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		obj := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj.Object), doc)
		if len(obj.Object) == 0 {
			continue
		}
		key := obj.GetKind() + "/" + obj.GetName()
		require.NotContains(t, out.objs, key, "the release renders %s twice", key)
		out.objs[key] = obj
		out.docs[key] = doc
	}
	return out, nil
}

func mustRender(t *testing.T, vals map[string]any) *rendered {
	t.Helper()
	out, err := render(t, vals)
	require.NoError(t, err)
	return out
}

// renderFails renders and returns the error, which must be there.
func renderFails(t *testing.T, vals map[string]any) string {
	t.Helper()
	_, err := render(t, vals)
	require.Error(t, err, "values %v were accepted", vals)
	return err.Error()
}

// decode reads one rendered object into a typed struct, refusing fields the type does not
// have, so that a misspelt field in a template fails the test.
func decode[T any](t *testing.T, r *rendered, key string) *T {
	t.Helper()
	doc, ok := r.docs[key]
	require.True(t, ok, "no %s among %v", key, r.keys())
	var obj T
	require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &obj), "%s:\n%s", key, doc)
	return &obj
}

func (r *rendered) keys() []string {
	keys := make([]string, 0, len(r.objs))
	for k := range r.objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *rendered) deployment(t *testing.T) *appsv1.Deployment {
	return decode[appsv1.Deployment](t, r, "Deployment/kubestellar")
}

func container(t *testing.T, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

func withEndpoint(kv ...any) map[string]any {
	vals := map[string]any{"externalEndpoint": endpoint}
	for i := 0; i < len(kv); i += 2 {
		setPath(vals, kv[i].(string), kv[i+1])
	}
	return vals
}

func values(kv ...any) map[string]any {
	vals := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		setPath(vals, kv[i].(string), kv[i+1])
	}
	return vals
}

// setPath sets a dotted path, like --set does (keys here never contain dots).
func setPath(vals map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	m := vals
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func TestCommonObjects(t *testing.T) {
	r := mustRender(t, withEndpoint())

	for _, key := range []string{"Deployment/kubestellar", "Service/kubestellar", "ServiceAccount/kubestellar",
		"Secret/kubestellar", "PersistentVolumeClaim/kubestellar-state", "Role/kubestellar", "RoleBinding/kubestellar"} {
		assert.Contains(t, r.objs, key)
	}

	for key, obj := range r.objs {
		assert.Equal(t, namespace, obj.GetNamespace(), "%s namespace", key)
		labels := obj.GetLabels()
		assert.Equal(t, "kubestellar", labels["app.kubernetes.io/name"], "%s labels", key)
		assert.Equal(t, releaseName, labels["app.kubernetes.io/instance"], "%s labels", key)
		assert.Equal(t, "v0.0.0-dev", labels["app.kubernetes.io/version"], "%s labels", key)
		assert.Equal(t, "Helm", labels["app.kubernetes.io/managed-by"], "%s labels", key)
		assert.Equal(t, "core", labels["app.kubernetes.io/component"], "%s labels", key)
		assert.Equal(t, "kubestellar", labels["app"], "%s labels", key)
	}

	svc := decode[corev1.Service](t, r, "Service/kubestellar")
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, "https", svc.Spec.Ports[0].Name)
	assert.EqualValues(t, 6443, svc.Spec.Ports[0].Port)
	assert.Equal(t, "https", svc.Spec.Ports[0].TargetPort.String())
	d := r.deployment(t)
	assert.Equal(t, d.Spec.Selector.MatchLabels, svc.Spec.Selector, "the Service selects the pod")
	for k, v := range d.Spec.Selector.MatchLabels {
		assert.Equal(t, v, d.Spec.Template.Labels[k], "the Deployment selects its own pod")
	}
	// The original documents' `kubectl get pod --selector=app=kubestellar` finds the pod; the
	// selector itself stays what earlier releases had, since an upgrade cannot change it.
	assert.Equal(t, "kubestellar", d.Spec.Template.Labels["app"])
	assert.NotContains(t, d.Spec.Selector.MatchLabels, "app")

	secret := decode[corev1.Secret](t, r, "Secret/kubestellar")
	assert.Equal(t, corev1.SecretTypeOpaque, secret.Type)
	assert.NotContains(t, r.objs["Secret/kubestellar"].Object, "data", "the init container fills the Secret; the chart must not")
	assert.NotContains(t, r.objs["Secret/kubestellar"].Object, "stringData")

	pvc := decode[corev1.PersistentVolumeClaim](t, r, "PersistentVolumeClaim/kubestellar-state")
	assert.Equal(t, "10Gi", pvc.Spec.Resources.Requests.Storage().String())
	assert.Nil(t, pvc.Spec.StorageClassName, "the cluster's default StorageClass")
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)
	assert.NotContains(t, pvc.Annotations, "helm.sh/resource-policy")

	sa := decode[corev1.ServiceAccount](t, r, "ServiceAccount/kubestellar")
	rb := decode[rbacv1.RoleBinding](t, r, "RoleBinding/kubestellar")
	assert.Equal(t, rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "kubestellar"}, rb.RoleRef)
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: namespace}}, rb.Subjects)

	for _, want := range []string{
		"kubectl kubestellar get-external-kubeconfig -n " + namespace + " -o ks.kubeconfig",
		"kubectl kubestellar get-internal-kubeconfig -n " + namespace,
		"kubectl logs -n " + namespace + " deploy/kubestellar -c init",
		"helm delete kubestellar -n " + namespace,
		"https://" + endpoint,
	} {
		assert.Contains(t, r.notes, want)
	}
}

func TestDeployment(t *testing.T) {
	d := mustRender(t, withEndpoint()).deployment(t)

	assert.EqualValues(t, 1, *d.Spec.Replicas)
	assert.Equal(t, appsv1.RecreateDeploymentStrategyType, d.Spec.Strategy.Type)
	pod := d.Spec.Template.Spec
	var names []string
	for _, c := range pod.Containers {
		names = append(names, c.Name)
	}
	assert.Equal(t, containerNames, names)
	assert.Empty(t, pod.InitContainers)
	assert.Equal(t, "kubestellar", pod.ServiceAccountName)

	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	tmpVolumes := map[string]bool{}
	identityMounts := map[string][]string{}
	for _, c := range pod.Containers {
		mounts := map[string]corev1.VolumeMount{}
		for _, m := range c.VolumeMounts {
			mounts[m.MountPath] = m
		}
		state, ok := mounts[stateDir]
		hasState := c.Name == "space-server" || c.Name == "init"
		require.Equal(t, hasState, ok, "%s mounts the state volume", c.Name)
		if hasState {
			require.NotNil(t, volumes[state.Name].PersistentVolumeClaim)
			assert.Equal(t, "kubestellar-state", volumes[state.Name].PersistentVolumeClaim.ClaimName)
			assert.False(t, state.ReadOnly, "%s state volume read-only", c.Name)
		}
		// Each component's credential is in a volume of its own, which the space server
		// writes and that component alone reads.
		for _, m := range c.VolumeMounts {
			component, isIdentity := strings.CutPrefix(m.Name, "identity-")
			if !isIdentity {
				continue
			}
			v := volumes[m.Name]
			require.NotNil(t, v.EmptyDir, m.Name)
			assert.Equal(t, corev1.StorageMediumMemory, v.EmptyDir.Medium, "%s keeps the keys off the node's disk", m.Name)
			identityMounts[m.Name] = append(identityMounts[m.Name], c.Name)
			switch c.Name {
			case "space-server":
				assert.Equal(t, stateDir+"/identities/"+component, m.MountPath)
				assert.False(t, m.ReadOnly, m.Name)
			case "init":
				assert.Equal(t, stateDir+"/identities/"+component, m.MountPath)
				assert.True(t, m.ReadOnly, m.Name)
			default:
				assert.Equal(t, "/etc/kubestellar/identity", m.MountPath)
				assert.True(t, m.ReadOnly, m.Name)
			}
		}

		tmp, ok := mounts["/tmp"]
		require.True(t, ok, "%s has a writable /tmp", c.Name)
		require.NotNil(t, volumes[tmp.Name].EmptyDir, "%s /tmp is an emptyDir", c.Name)
		assert.False(t, tmpVolumes[tmp.Name], "%s shares its /tmp", c.Name)
		tmpVolumes[tmp.Name] = true

		_, hasToken := mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
		assert.Equal(t, c.Name == "init", hasToken, "%s has the ServiceAccount token", c.Name)
	}
	assert.False(t, *pod.AutomountServiceAccountToken, "the token goes to the init container alone")
	assert.Equal(t, map[string][]string{
		"identity-init":                 {"space-server", "init"},
		"identity-mailbox-controller":   {"space-server", "mailbox-controller"},
		"identity-where-resolver":       {"space-server", "where-resolver"},
		"identity-placement-translator": {"space-server", "placement-translator"},
	}, identityMounts, "each credential reaches the space server and its component alone")

	init := container(t, d, "init")
	require.Len(t, init.Env, 1)
	assert.Equal(t, "POD_NAMESPACE", init.Env[0].Name)
	assert.Equal(t, "metadata.namespace", init.Env[0].ValueFrom.FieldRef.FieldPath)
	assert.Equal(t, []string{
		"init-in-cluster", "--root-dir=" + stateDir, "--namespace=$(POD_NAMESPACE)", "--secret-name=kubestellar",
		"--service-name=kubestellar", "--external-endpoint=" + endpoint, "--ensure-imw=root:imw1",
		"--ensure-wmw=root:wmw1", "--health-bind-address=:10206", "-v=2",
	}, init.Args)

	assert.Equal(t, []string{"--root-dir=" + stateDir, "--secure-port=6443", "--external-hostname=" + host, "-v=2"},
		container(t, d, "space-server").Args)
	for name, ports := range map[string][2]int{"mailbox-controller": {10203, 10213}, "where-resolver": {10205, 10215}, "placement-translator": {10204, 10214}} {
		assert.Equal(t, []string{
			"--root-kubeconfig=/etc/kubestellar/identity/kubeconfig", "--base-kubeconfig=/etc/kubestellar/identity/kubeconfig",
			fmt.Sprintf("--metrics-bind-address=:%d", ports[0]), "--metrics-secure=true",
			fmt.Sprintf("--health-bind-address=:%d", ports[1]), "-v=2",
		}, container(t, d, name).Args, name)
	}
}

func TestProbes(t *testing.T) {
	d := mustRender(t, withEndpoint()).deployment(t)
	type probe struct {
		scheme corev1.URIScheme
		path   string
		port   int32
	}
	get := func(c corev1.Container, p *corev1.Probe) probe {
		require.NotNil(t, p, c.Name)
		require.NotNil(t, p.HTTPGet, c.Name)
		port := p.HTTPGet.Port.IntVal
		for _, cp := range c.Ports {
			if cp.Name == p.HTTPGet.Port.StrVal {
				port = cp.ContainerPort
			}
		}
		scheme := p.HTTPGet.Scheme
		if scheme == "" {
			scheme = corev1.URISchemeHTTP
		}
		return probe{scheme, p.HTTPGet.Path, port}
	}

	ss := container(t, d, "space-server")
	assert.Equal(t, probe{corev1.URISchemeHTTPS, "/readyz", 6443}, get(ss, ss.ReadinessProbe))
	assert.Equal(t, probe{corev1.URISchemeHTTPS, "/livez", 6443}, get(ss, ss.LivenessProbe))
	assert.Equal(t, probe{corev1.URISchemeHTTPS, "/livez", 6443}, get(ss, ss.StartupProbe))
	startup := ss.StartupProbe.PeriodSeconds * ss.StartupProbe.FailureThreshold
	assert.GreaterOrEqual(t, startup, int32(300), "the space server gets minutes to start, not the ~30 s it usually takes")

	for name, port := range map[string]int32{"init": 10206, "mailbox-controller": 10213, "where-resolver": 10215, "placement-translator": 10214} {
		c := container(t, d, name)
		assert.Equal(t, probe{corev1.URISchemeHTTP, "/readyz", port}, get(c, c.ReadinessProbe), name)
		assert.Equal(t, probe{corev1.URISchemeHTTP, "/healthz", port}, get(c, c.LivenessProbe), name)
		assert.Equal(t, probe{corev1.URISchemeHTTP, "/healthz", port}, get(c, c.StartupProbe), name)
		assert.Equal(t, startup, c.StartupProbe.PeriodSeconds*c.StartupProbe.FailureThreshold,
			"%s waits for the space server and so gets as long to start", name)
	}
}

func TestResources(t *testing.T) {
	d := mustRender(t, withEndpoint()).deployment(t)
	ss := container(t, d, "space-server")
	assert.Equal(t, "1Gi", ss.Resources.Requests.Memory().String())
	assert.Equal(t, "250m", ss.Resources.Requests.Cpu().String())
	for _, name := range containerNames {
		c := container(t, d, name)
		assert.Empty(t, c.Resources.Limits, "%s has no limits unless asked", name)
		if name != "space-server" {
			assert.Equal(t, "64Mi", c.Resources.Requests.Memory().String(), name)
			assert.Equal(t, "50m", c.Resources.Requests.Cpu().String(), name)
		}
	}

	d = mustRender(t, withEndpoint("resources.spaceServer.limits", map[string]any{"memory": "4Gi"},
		"resources.whereResolver.requests.memory", "128Mi")).deployment(t)
	ss = container(t, d, "space-server")
	assert.Equal(t, "4Gi", ss.Resources.Limits.Memory().String())
	assert.Equal(t, "1Gi", ss.Resources.Requests.Memory().String(), "setting limits keeps the default requests")
	wr := container(t, d, "where-resolver")
	assert.Equal(t, "128Mi", wr.Resources.Requests.Memory().String())
	assert.Equal(t, "50m", wr.Resources.Requests.Cpu().String())
}

func TestImages(t *testing.T) {
	d := mustRender(t, withEndpoint()).deployment(t)
	for _, c := range d.Spec.Template.Spec.Containers {
		assert.Equal(t, "ghcr.io/kubestellar/kubestellar/"+c.Name+":v0.0.0-dev", c.Image)
		assert.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy)
	}
	assert.Empty(t, d.Spec.Template.Spec.ImagePullSecrets)

	d = mustRender(t, withEndpoint("image.registry", "registry.example.com:5000", "image.tag", "v1.2.3",
		"image.pullPolicy", "Always", "imagePullSecrets", []any{map[string]any{"name": "pull"}})).deployment(t)
	for _, c := range d.Spec.Template.Spec.Containers {
		assert.Equal(t, "registry.example.com:5000/kubestellar/kubestellar/"+c.Name+":v1.2.3", c.Image)
		assert.Equal(t, corev1.PullAlways, c.ImagePullPolicy)
	}
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "pull"}}, d.Spec.Template.Spec.ImagePullSecrets)
	assert.Equal(t, "v1.2.3", d.Labels["app.kubernetes.io/version"])

	d = mustRender(t, withEndpoint("image.repository", "me/ks")).deployment(t)
	assert.Equal(t, "ghcr.io/me/ks/init:v0.0.0-dev", container(t, d, "init").Image)
}

func TestVerbosity(t *testing.T) {
	d := mustRender(t, withEndpoint("verbosity", 4, "componentVerbosity.init", 0, "componentVerbosity.placementTranslator", 6)).deployment(t)
	want := map[string]string{"space-server": "-v=4", "init": "-v=0", "mailbox-controller": "-v=4", "where-resolver": "-v=4", "placement-translator": "-v=6"}
	for name, v := range want {
		args := container(t, d, name).Args
		assert.Equal(t, v, args[len(args)-1], name)
	}
}

func TestSecurityContext(t *testing.T) {
	for _, openshift := range []bool{false, true} {
		t.Run(fmt.Sprintf("openshift=%v", openshift), func(t *testing.T) {
			d := mustRender(t, withEndpoint("openshift", openshift)).deployment(t)
			psc := d.Spec.Template.Spec.SecurityContext
			require.NotNil(t, psc)
			assert.True(t, *psc.RunAsNonRoot)
			assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type)
			if openshift {
				assert.Nil(t, psc.RunAsUser, "restricted-v2 assigns the user")
				assert.Nil(t, psc.RunAsGroup)
				assert.Nil(t, psc.FSGroup, "restricted-v2 assigns the fsGroup")
			} else {
				assert.EqualValues(t, 65532, *psc.RunAsUser)
				assert.EqualValues(t, 65532, *psc.RunAsGroup)
				assert.EqualValues(t, 65532, *psc.FSGroup)
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				sc := c.SecurityContext
				require.NotNil(t, sc, c.Name)
				assert.False(t, *sc.AllowPrivilegeEscalation, c.Name)
				assert.True(t, *sc.ReadOnlyRootFilesystem, c.Name)
				assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, c.Name)
				assert.Empty(t, sc.Capabilities.Add, c.Name)
				assert.Nil(t, sc.RunAsUser, c.Name)
				assert.Nil(t, sc.Privileged, c.Name)
			}
			for _, v := range d.Spec.Template.Spec.Volumes {
				assert.Nil(t, v.HostPath, "restricted pods have no hostPath volumes")
			}
		})
	}
}

func TestScheduling(t *testing.T) {
	d := mustRender(t, withEndpoint(
		"nodeSelector", map[string]any{"disk": "ssd"},
		"tolerations", []any{map[string]any{"key": "edge", "operator": "Exists", "effect": "NoSchedule"}},
		"affinity", map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"a"}}}}},
		}}},
		"podAnnotations", map[string]any{"example.com/team": "edge"},
	)).deployment(t)
	pod := d.Spec.Template
	assert.Equal(t, map[string]string{"disk": "ssd"}, pod.Spec.NodeSelector)
	assert.Equal(t, []corev1.Toleration{{Key: "edge", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, pod.Spec.Tolerations)
	require.NotNil(t, pod.Spec.Affinity)
	assert.Equal(t, "zone", pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key)
	assert.Equal(t, "edge", pod.Annotations["example.com/team"])
}

func TestStorage(t *testing.T) {
	r := mustRender(t, withEndpoint("storage.size", "50Gi", "storage.storageClassName", "fast", "storage.keep", true))
	pvc := decode[corev1.PersistentVolumeClaim](t, r, "PersistentVolumeClaim/kubestellar-state")
	assert.Equal(t, "50Gi", pvc.Spec.Resources.Requests.Storage().String())
	assert.Equal(t, "fast", *pvc.Spec.StorageClassName)
	assert.Equal(t, "keep", pvc.Annotations["helm.sh/resource-policy"])
	assert.Contains(t, r.notes, "kubectl delete pvc -n "+namespace+" kubestellar-state")
}

// rules returns the Role's rules as "group/resource names verbs" lines.
func rules(t *testing.T, r *rendered) []string {
	role := decode[rbacv1.Role](t, r, "Role/kubestellar")
	var out []string
	for _, rule := range role.Rules {
		assert.Empty(t, rule.NonResourceURLs)
		out = append(out, fmt.Sprintf("%s/%s %s %s", strings.Join(rule.APIGroups, ","), strings.Join(rule.Resources, ","),
			strings.Join(rule.ResourceNames, ","), strings.Join(rule.Verbs, ",")))
	}
	return out
}

const secretRule = "/secrets kubestellar get,update,patch"

func exposureKinds(r *rendered) []string {
	var kinds []string
	for _, key := range []string{"Ingress/kubestellar", "Route/kubestellar", "TLSRoute/kubestellar"} {
		if _, ok := r.objs[key]; ok {
			kinds = append(kinds, key)
		}
	}
	return kinds
}

func TestExposureIngress(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"default":  withEndpoint(),
		"explicit": withEndpoint("exposure.type", "ingress"),
	} {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, vals)
			assert.Equal(t, []string{"Ingress/kubestellar"}, exposureKinds(r))
			ing := decode[networkingv1.Ingress](t, r, "Ingress/kubestellar")
			assert.Equal(t, "nginx", *ing.Spec.IngressClassName)
			assert.Equal(t, map[string]string{
				"nginx.ingress.kubernetes.io/ssl-passthrough":  "true",
				"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
			}, ing.Annotations)
			assert.Empty(t, ing.Spec.TLS, "TLS passes through to the space server")
			prefix := networkingv1.PathTypePrefix
			assert.Equal(t, []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "kubestellar", Port: networkingv1.ServiceBackendPort{Number: 6443},
					}},
				}}}},
			}}, ing.Spec.Rules)
			assert.Equal(t, []string{secretRule, "networking.k8s.io/ingresses kubestellar get"}, rules(t, r))
			assert.NotContains(t, container(t, r.deployment(t), "init").Args, "--route-name=kubestellar")
		})
	}

	t.Run("class and annotations", func(t *testing.T) {
		r := mustRender(t, withEndpoint("exposure.ingress.className", "haproxy", "exposure.ingress.annotations", map[string]any{
			"nginx.ingress.kubernetes.io/ssl-passthrough":  nil,
			"nginx.ingress.kubernetes.io/backend-protocol": nil,
			"haproxy.org/ssl-passthrough":                  true,
			"example.com/owner":                            "edge-team",
		}))
		ing := decode[networkingv1.Ingress](t, r, "Ingress/kubestellar")
		assert.Equal(t, "haproxy", *ing.Spec.IngressClassName)
		assert.Equal(t, map[string]string{"haproxy.org/ssl-passthrough": "true", "example.com/owner": "edge-team"}, ing.Annotations,
			"annotations set to null are removed, others added")
	})

	t.Run("extra annotation", func(t *testing.T) {
		r := mustRender(t, withEndpoint("exposure.ingress.annotations", map[string]any{"example.com/owner": "edge-team"}))
		ing := decode[networkingv1.Ingress](t, r, "Ingress/kubestellar")
		assert.Len(t, ing.Annotations, 3, "the defaults stay: %v", ing.Annotations)
		assert.Equal(t, "edge-team", ing.Annotations["example.com/owner"])
	})

	t.Run("default class", func(t *testing.T) {
		r := mustRender(t, withEndpoint("exposure.ingress.className", ""))
		ing := decode[networkingv1.Ingress](t, r, "Ingress/kubestellar")
		assert.Nil(t, ing.Spec.IngressClassName, "an empty class means the cluster's default IngressClass")
	})
}

func TestExposureRoute(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"openshift default": values("openshift", true),
		"explicit":          values("exposure.type", "route"),
	} {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, vals)
			assert.Equal(t, []string{"Route/kubestellar"}, exposureKinds(r))
			route := r.objs["Route/kubestellar"]
			assert.Equal(t, "route.openshift.io/v1", route.GetAPIVersion())
			spec := route.Object["spec"].(map[string]any)
			assert.NotContains(t, spec, "host", "OpenShift assigns the host")
			assert.Equal(t, map[string]any{"kind": "Service", "name": "kubestellar", "weight": float64(100)}, spec["to"])
			assert.Equal(t, map[string]any{"targetPort": "https"}, spec["port"])
			assert.Equal(t, map[string]any{"termination": "passthrough", "insecureEdgeTerminationPolicy": "None"}, spec["tls"])
			assert.Equal(t, []string{secretRule, "route.openshift.io/routes kubestellar get"}, rules(t, r))

			d := r.deployment(t)
			init := container(t, d, "init")
			assert.Contains(t, init.Args, "--route-name=kubestellar")
			assert.Contains(t, init.Args, "--external-endpoint=")
			for _, arg := range container(t, d, "space-server").Args {
				assert.NotContains(t, arg, "--external-hostname")
			}
			assert.Contains(t, r.notes, "kubectl get route kubestellar -n "+namespace)
		})
	}

	t.Run("with host", func(t *testing.T) {
		r := mustRender(t, withEndpoint("openshift", true))
		spec := r.objs["Route/kubestellar"].Object["spec"].(map[string]any)
		assert.Equal(t, host, spec["host"])
		assert.Contains(t, container(t, r.deployment(t), "space-server").Args, "--external-hostname="+host)
		assert.Contains(t, container(t, r.deployment(t), "init").Args, "--external-endpoint="+endpoint)
	})

	t.Run("ingress on openshift", func(t *testing.T) {
		r := mustRender(t, withEndpoint("openshift", true, "exposure.type", "ingress"))
		assert.Equal(t, []string{"Ingress/kubestellar"}, exposureKinds(r))
	})
}

func TestExposureTLSRoute(t *testing.T) {
	r := mustRender(t, withEndpoint("exposure.type", "tlsroute", "exposure.tlsRoute.gateway",
		map[string]any{"name": "edge", "namespace": "gateways", "sectionName": "tls-passthrough"}))
	assert.Equal(t, []string{"TLSRoute/kubestellar"}, exposureKinds(r))
	route := r.objs["TLSRoute/kubestellar"]
	assert.Equal(t, "gateway.networking.k8s.io/v1alpha2", route.GetAPIVersion())
	spec := route.Object["spec"].(map[string]any)
	assert.Equal(t, []any{map[string]any{
		"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge", "namespace": "gateways", "sectionName": "tls-passthrough",
	}}, spec["parentRefs"])
	assert.Equal(t, []any{host}, spec["hostnames"])
	assert.Equal(t, []any{map[string]any{"backendRefs": []any{map[string]any{"name": "kubestellar", "port": float64(6443)}}}}, spec["rules"])
	assert.Equal(t, []string{secretRule}, rules(t, r))
	assert.Contains(t, container(t, r.deployment(t), "space-server").Args, "--external-hostname="+host)
	assert.Contains(t, r.notes, "gateways/edge")

	r = mustRender(t, withEndpoint("exposure.type", "tlsroute", "exposure.tlsRoute.gateway.name", "edge"))
	spec = r.objs["TLSRoute/kubestellar"].Object["spec"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge"}}, spec["parentRefs"],
		"without namespace and sectionName the Gateway is in the release namespace and any listener may take the route")
}

func TestExposureNone(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"without endpoint": values("exposure.type", "none"),
		"with endpoint":    withEndpoint("exposure.type", "none"),
		"with IP address":  values("exposure.type", "none", "externalEndpoint", "192.0.2.10:6443"),
	} {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, vals)
			assert.Empty(t, exposureKinds(r))
			assert.Equal(t, []string{secretRule}, rules(t, r))
			assert.Contains(t, r.objs, "Service/kubestellar")
			assert.Contains(t, r.notes, "https://kubestellar."+namespace+".svc:6443")
			if vals["externalEndpoint"] == nil {
				assert.NotContains(t, r.notes, "get-external-kubeconfig", "nothing outside the cluster reaches it")
			}
		})
	}
}

func TestCrossFieldErrors(t *testing.T) {
	needEndpoint := `set externalEndpoint (host:port), e.g. kubectl kubestellar deploy --external-endpoint kubestellar.example.com:443`
	for name, tc := range map[string]struct {
		vals map[string]any
		want []string
	}{
		"default without endpoint":  {values(), []string{"exposure ingress needs", needEndpoint}},
		"ingress without endpoint":  {values("exposure.type", "ingress"), []string{"exposure ingress needs", needEndpoint}},
		"tlsroute without endpoint": {values("exposure.type", "tlsroute", "exposure.tlsRoute.gateway.name", "gw"), []string{"exposure tlsroute needs", needEndpoint}},
		"tlsroute without gateway": {withEndpoint("exposure.type", "tlsroute"), []string{
			"exposure tlsroute needs the Gateway to attach to: set exposure.tlsRoute.gateway.name",
		}},
		"ingress with IP address": {values("externalEndpoint", "192.0.2.10:443"), []string{
			`exposure ingress routes by DNS name, but externalEndpoint "192.0.2.10:443" has the IP address 192.0.2.10`,
			"set externalEndpoint to a DNS name and port", "or set exposure.type to none",
		}},
		"route with IP address": {values("openshift", true, "externalEndpoint", "192.0.2.10:443"), []string{
			"exposure route routes by DNS name",
		}},
		"etcd TLS without endpoints": {withEndpoint("etcd.tlsSecret", "etcd-client"), []string{
			"etcd.tlsSecret secures an external etcd, but etcd.endpoints is empty: set etcd.endpoints",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			msg := renderFails(t, tc.vals)
			for _, want := range tc.want {
				assert.Contains(t, msg, want)
			}
		})
	}
}

func TestSchemaErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		vals map[string]any
		want []string
	}{
		"unknown exposure": {withEndpoint("exposure.type", "loadbalancer"), []string{
			"at '/exposure/type'", "'ingress', 'route', 'tlsroute', 'none'",
		}},
		"endpoint without port":   {values("externalEndpoint", "kubestellar.example.com"), []string{"at '/externalEndpoint'", "does not match pattern"}},
		"endpoint port 0":         {values("externalEndpoint", "kubestellar.example.com:0"), []string{"at '/externalEndpoint'"}},
		"endpoint port 65536":     {values("externalEndpoint", "kubestellar.example.com:65536"), []string{"at '/externalEndpoint'"}},
		"endpoint with scheme":    {values("externalEndpoint", "https://kubestellar.example.com:443"), []string{"at '/externalEndpoint'"}},
		"endpoint upper case":     {values("externalEndpoint", "KubeStellar.example.com:443"), []string{"at '/externalEndpoint'"}},
		"storage size":            {withEndpoint("storage.size", "ten gigabytes"), []string{"at '/storage/size'", "does not match pattern"}},
		"storage size number":     {withEndpoint("storage.size", 10), []string{"at '/storage/size'", "got number, want string"}},
		"verbosity too high":      {withEndpoint("verbosity", 11), []string{"at '/verbosity'", "maximum", "10"}},
		"verbosity negative":      {withEndpoint("verbosity", -1), []string{"at '/verbosity'", "minimum", "0"}},
		"verbosity string":        {withEndpoint("verbosity", "loud"), []string{"at '/verbosity'", "got string, want integer"}},
		"verbosity fraction":      {withEndpoint("verbosity", 2.5), []string{"at '/verbosity'", "want integer"}},
		"component verbosity":     {withEndpoint("componentVerbosity.spaceServer", 12), []string{"at '/componentVerbosity/spaceServer'"}},
		"unknown component":       {withEndpoint("componentVerbosity.syncer", 3), []string{"at '/componentVerbosity'", "'syncer' not allowed"}},
		"unknown value":           {withEndpoint("externalEndpoints", "x"), []string{"additional properties 'externalEndpoints' not allowed"}},
		"openshift string":        {withEndpoint("openshift", "yes"), []string{"at '/openshift'", "got string, want boolean"}},
		"pull policy":             {withEndpoint("image.pullPolicy", "Sometimes"), []string{"at '/image/pullPolicy'"}},
		"registry with scheme":    {withEndpoint("image.registry", "https://ghcr.io"), []string{"at '/image/registry'"}},
		"space path":              {withEndpoint("ensureIMW", "imw1"), []string{"at '/ensureIMW'"}},
		"bad quantity":            {withEndpoint("resources.init.limits.memory", "lots"), []string{"at '/resources/init/limits/memory'"}},
		"unknown container":       {withEndpoint("resources.syncer.requests.cpu", "1"), []string{"at '/resources'", "'syncer' not allowed"}},
		"keep string":             {withEndpoint("storage.keep", "true"), []string{"at '/storage/keep'", "want boolean"}},
		"etcd endpoint no scheme": {withEndpoint("etcd.endpoints", []any{"etcd-0:2379"}), []string{"at '/etcd/endpoints/0'", "does not match pattern"}},
		"etcd endpoints string":   {withEndpoint("etcd.endpoints", "https://etcd-0:2379"), []string{"at '/etcd/endpoints'", "want array"}},
		"etcd endpoints joined":   {withEndpoint("etcd.endpoints", []any{"https://a:2379,https://b:2379"}), []string{"at '/etcd/endpoints/0'"}},
	} {
		t.Run(name, func(t *testing.T) {
			msg := renderFails(t, tc.vals)
			assert.Contains(t, msg, "values don't meet the specifications of the schema")
			for _, want := range tc.want {
				assert.Contains(t, msg, want)
			}
		})
	}
}

func TestSchemaAccepts(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"port 1":             values("externalEndpoint", "ks.example.com:1"),
		"port 65535":         values("externalEndpoint", "ks.example.com:65535"),
		"short host":         values("externalEndpoint", "ks:6443"),
		"no spaces":          withEndpoint("ensureIMW", "", "ensureWMW", ""),
		"many spaces":        withEndpoint("ensureWMW", "root:wmw1,root:wmw-2"),
		"decimal size":       withEndpoint("storage.size", "1.5Ti"),
		"cpu as number":      withEndpoint("resources.init.limits.cpu", 1),
		"null resources":     withEndpoint("resources.init", nil),
		"registry with port": withEndpoint("image.registry", "localhost:5000"),
		"global":             withEndpoint("global", map[string]any{"imageRegistry": "x"}),
		"etcd without TLS":   withEndpoint("etcd.endpoints", []any{"http://etcd:2379"}),
	} {
		t.Run(name, func(t *testing.T) {
			mustRender(t, vals)
		})
	}
}

// TestLoadReadsLikeHelm checks that the embedded chart is the chart directory as `helm` reads it.
func TestLoadReadsLikeHelm(t *testing.T) {
	embedded, err := charts.Load()
	require.NoError(t, err)
	onDisk, err := loader.LoadDir(charts.ChartName)
	require.NoError(t, err)
	assert.Equal(t, onDisk.Metadata, embedded.Metadata)
	assert.Equal(t, onDisk.Values, embedded.Values)
	assert.Equal(t, onDisk.Schema, embedded.Schema)
	assert.ElementsMatch(t, onDisk.Templates, embedded.Templates)
	assert.ElementsMatch(t, onDisk.Files, embedded.Files)
	assert.NotEmpty(t, embedded.Templates)

	again, err := charts.Load()
	require.NoError(t, err)
	again.Values["verbosity"] = 9
	assert.NotEqual(t, 9, embedded.Values["verbosity"], "each Load returns its own copy")
}

// TestValuesFileMatchesSchema guards against the defaults drifting from the schema: every
// default is itself valid.
func TestValuesFileMatchesSchema(t *testing.T) {
	chrt, err := charts.Load()
	require.NoError(t, err)
	require.NoError(t, chartutil.ValidateAgainstSingleSchema(chrt.Values, chrt.Schema))
	assert.Equal(t, "kubestellar", chrt.Name())
	assert.Equal(t, "0.0.0-dev", chrt.Metadata.Version)
	assert.Equal(t, "v0.0.0-dev", chrt.Metadata.AppVersion)
	assert.Equal(t, "v2", chrt.Metadata.APIVersion)
}

func TestExternalEtcd(t *testing.T) {
	d := mustRender(t, withEndpoint()).deployment(t)
	for _, arg := range container(t, d, "space-server").Args {
		assert.NotContains(t, arg, "--etcd", "the default is the embedded etcd")
	}

	d = mustRender(t, withEndpoint("etcd.endpoints", []any{"https://etcd-0.etcd:2379", "https://etcd-1.etcd:2379", "https://etcd-2.etcd:2379"},
		"etcd.tlsSecret", "etcd-client")).deployment(t)
	server := container(t, d, "space-server")
	assert.Subset(t, server.Args, []string{
		"--etcd-servers=https://etcd-0.etcd:2379,https://etcd-1.etcd:2379,https://etcd-2.etcd:2379",
		"--etcd-cafile=/etc/kubestellar/etcd/ca.crt",
		"--etcd-certfile=/etc/kubestellar/etcd/tls.crt",
		"--etcd-keyfile=/etc/kubestellar/etcd/tls.key",
	})
	volume := secretVolume(t, d, "etcd-client")
	for _, c := range d.Spec.Template.Spec.Containers {
		m := mountOf(c, volume.Name)
		if m != nil {
			assert.Equal(t, "/etc/kubestellar/etcd", m.MountPath)
			assert.True(t, m.ReadOnly)
		}
		assert.Equal(t, c.Name == "space-server", m != nil, "only the space server mounts the etcd client certificate (%s)", c.Name)
	}

	d = mustRender(t, withEndpoint("etcd.endpoints", []any{"http://etcd:2379"})).deployment(t)
	server = container(t, d, "space-server")
	assert.Contains(t, server.Args, "--etcd-servers=http://etcd:2379")
	for _, arg := range server.Args {
		assert.NotContains(t, arg, "--etcd-cafile", "no TLS Secret, no certificate flags")
	}
}

// secretVolume is the pod's volume of the Secret named secretName, which must be there.
func secretVolume(t *testing.T, d *appsv1.Deployment, secretName string) *corev1.Volume {
	t.Helper()
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secretName {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	require.Failf(t, "the Secret is a volume", "no volume of Secret %s", secretName)
	return nil
}

// mountOf is c's mount of the volume, nil when it has none.
func mountOf(c corev1.Container, volume string) *corev1.VolumeMount {
	for i, m := range c.VolumeMounts {
		if m.Name == volume {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}
