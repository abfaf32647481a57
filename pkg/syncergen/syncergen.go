// Package syncergen prepares a workload execution cluster's syncer: credentials that reach
// only its mailbox, and the manifest that runs it in the cluster.
package syncergen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/syncer"
)

// WaitForMailbox waits until the mailbox namespace exists in the core space.
func WaitForMailbox(ctx context.Context, espw client.Client, mailbox string, timeout time.Duration, progress func(string, ...any)) error {
	start, last := time.Now(), time.Now()
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ns := &corev1.Namespace{}
		err := espw.Get(ctx, client.ObjectKey{Name: mailbox}, ns)
		if err == nil && ns.DeletionTimestamp.IsZero() {
			return true, nil
		}
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			progress("Waiting for mailbox %s (%s so far)", mailbox, time.Since(start).Round(time.Second))
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("mailbox %s did not appear within %s; is the mailbox controller running, and is the SyncTarget in a space it watches?", mailbox, timeout)
	}
	return nil
}

// PrepareMailbox gives the syncer named name a ServiceAccount, Role and RoleBinding reaching
// only the mailbox, and a long-lived token, which it returns. It is idempotent. Each step is
// told to say, as it is taken.
func PrepareMailbox(ctx context.Context, espw client.Client, mailbox, name string, timeout time.Duration, say func(string, ...any)) (string, error) {
	for _, obj := range syncer.MailboxAccess(mailbox, name) {
		announce(say, obj, mailbox)
		desired := obj.DeepCopyObject().(client.Object)
		if err := espw.Create(ctx, obj); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return "", fmt.Errorf("creating %s %s in the mailbox: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
			}
			// Keep the access as this version defines it.
			if err := espw.Patch(ctx, desired, client.Merge); err != nil {
				return "", fmt.Errorf("updating %s %s in the mailbox: %w", desired.GetObjectKind().GroupVersionKind().Kind, desired.GetName(), err)
			}
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: mailbox, Name: name + "-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: name}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}
	if err := espw.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating the syncer's token Secret: %w", err)
	}
	var token string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		got := &corev1.Secret{}
		if err := espw.Get(ctx, client.ObjectKeyFromObject(secret), got); err != nil {
			return false, nil //nolint:nilerr // keep waiting
		}
		token = string(got.Data[corev1.ServiceAccountTokenKey])
		return token != "", nil
	})
	if err != nil {
		return "", fmt.Errorf("the token of the syncer's ServiceAccount was not issued within %s", timeout)
	}
	return token, nil
}

// announce says what giving the syncer its access does with obj, in the order the original
// syncer-gen reported it: the ServiceAccount, what its role allows, the binding.
func announce(say func(string, ...any), obj client.Object, mailbox string) {
	switch o := obj.(type) {
	case *corev1.ServiceAccount:
		say("Creating service account %q in mailbox %q", o.Name, mailbox)
	case *rbacv1.Role:
		say("Creating role %q to give service account %q", o.Name, o.Name)
		say("")
		say(" 1. read and write access to the wrapped objects in mailbox %q (their status, and the upsynced ones),", mailbox)
		say(" 2. read access to the SyncerConfigs there and write access to their status.")
		say("")
	case *rbacv1.RoleBinding:
		say("Creating or updating role binding %q to bind service account %q to role %q.", o.Name, o.Subjects[0].Name, o.RoleRef.Name)
		say("")
	}
}

// ManifestOptions describe a syncer to run in a workload execution cluster.
type ManifestOptions struct {
	// Name is the syncer's (and the SyncTarget's) name.
	Name          string
	SyncTargetUID types.UID
	Mailbox       string
	Image         string
	// Server is the URL of the core space; CA verifies it; Token authenticates the syncer.
	Server string
	CA     []byte
	Token  string
	// Rules, when set, are what the syncer's ClusterRole allows in the cluster, besides
	// BaseRules; by default it allows everything.
	Rules []rbacv1.PolicyRule
}

// BaseRules are what a syncer needs in its cluster whatever it downsyncs: the namespaces
// objects travel in, and Events to report drift.
var BaseRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "update", "patch"}},
}

// allRules let the syncer create whatever kinds of objects are placed on its cluster, RBAC
// objects and CRDs included.
var allRules = []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}

// syncerVerbs are the verbs a rule given to ReadRules may name: those the syncer uses, and "*".
var syncerVerbs = []string{"*", "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// ReadRules reads the rules of a narrower syncer ClusterRole from YAML: a ClusterRole, or any
// document with its rules field. Each rule must name verbs the syncer uses and either
// resources (with API groups) or non-resource URLs.
func ReadRules(data []byte, source string) ([]rbacv1.PolicyRule, error) {
	var doc struct {
		Rules []rbacv1.PolicyRule `json:"rules"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a YAML document with a rules field (a ClusterRole's rules): %w", source, err)
	}
	if len(doc.Rules) == 0 {
		return nil, fmt.Errorf("%s: rules is empty; list what the syncer may do in the cluster, as in a ClusterRole's rules", source)
	}
	for i, r := range doc.Rules {
		switch {
		case len(r.Verbs) == 0:
			return nil, fmt.Errorf("%s: rules[%d].verbs is empty; name the verbs, such as [get, list, watch, create, update, patch, delete]", source, i)
		case len(r.Resources) == 0 && len(r.NonResourceURLs) == 0:
			return nil, fmt.Errorf("%s: rules[%d] names no resources and no nonResourceURLs", source, i)
		case len(r.Resources) > 0 && len(r.APIGroups) == 0:
			return nil, fmt.Errorf("%s: rules[%d].apiGroups is empty; \"\" is the core group", source, i)
		}
		for _, v := range r.Verbs {
			if !slices.Contains(syncerVerbs, v) {
				return nil, fmt.Errorf("%s: rules[%d].verbs: %q is not a verb the syncer uses; give some of %s, or \"*\"", source, i, v, strings.Join(syncerVerbs[1:], ", "))
			}
		}
	}
	return doc.Rules, nil
}

// clusterRules are the rules of the syncer's ClusterRole.
func (o ManifestOptions) clusterRules() []rbacv1.PolicyRule {
	if len(o.Rules) == 0 {
		return allRules
	}
	return append(append([]rbacv1.PolicyRule(nil), BaseRules...), o.Rules...)
}

// Validate checks the options.
func (o ManifestOptions) Validate() error {
	var errs []error
	if o.Name == "" || o.Mailbox == "" || o.Server == "" || o.Token == "" {
		errs = append(errs, errors.New("the syncer's name, mailbox, server and token are required"))
	}
	if o.Image == "" {
		errs = append(errs, errors.New("--syncer-image is required"))
	}
	if len(o.CA) == 0 {
		errs = append(errs, errors.New("the kubeconfig used has no CA data for the server; the syncer would not be able to verify it"))
	}
	return errors.Join(errs...)
}

// Manifest returns the objects to apply in the workload execution cluster, as YAML, and the
// name of the namespace they run in: kubestellar-syncer-<name>-<8 random characters>. The
// syncer's ServiceAccount, ClusterRole, ClusterRoleBinding and Deployment are named like the
// namespace, so `kubectl get deployment -n NS NS` finds the syncer; the Secret holding its
// kubeconfig is kubestellar-syncer-<name>.
func Manifest(o ManifestOptions) ([]byte, string, error) {
	if err := o.Validate(); err != nil {
		return nil, "", err
	}
	ns := "kubestellar-syncer-" + o.Name + "-" + utilrand.String(8)
	name := "kubestellar-syncer-" + o.Name
	// The names a user looks the syncer up by in the cluster are the namespace's.
	workload := ns
	labels := map[string]string{"app.kubernetes.io/name": "kubestellar-syncer", "edge.kubestellar.io/sync-target-name": o.Name}

	upstream := kubeconfig.ForServer("mailbox", o.Server, name, kubeconfig.Credentials{CA: o.CA, Token: o.Token})
	upstream.Contexts["mailbox"].Namespace = o.Mailbox
	upstreamBytes, err := clientcmd.Write(*upstream)
	if err != nil {
		return nil, "", err
	}

	objs := []any{
		&corev1.Namespace{TypeMeta: meta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}},
		&corev1.ServiceAccount{TypeMeta: meta("v1", "ServiceAccount"), ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: workload, Labels: labels}},
		&rbacv1.ClusterRole{
			TypeMeta:   meta("rbac.authorization.k8s.io/v1", "ClusterRole"),
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels},
			Rules:      o.clusterRules(),
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   meta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ns},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: workload}},
		},
		&corev1.Secret{
			TypeMeta:   meta("v1", "Secret"),
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			StringData: map[string]string{"kubeconfig": string(upstreamBytes)},
		},
		&appsv1.Deployment{
			TypeMeta:   meta("apps/v1", "Deployment"),
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: workload, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: workload,
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name:  "syncer",
							Image: o.Image,
							Args: []string{
								"--from-kubeconfig=/kubestellar/mailbox/kubeconfig",
								"--sync-target-name=" + o.Name,
								"--sync-target-uid=" + string(o.SyncTargetUID),
								"-v=2",
							},
							VolumeMounts: []corev1.VolumeMount{{Name: "mailbox", MountPath: "/kubestellar/mailbox", ReadOnly: true}},
							Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
								corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
							}},
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
								Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							},
						}},
						Volumes: []corev1.Volume{{Name: "mailbox", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}}},
					},
				},
			},
		},
	}
	var out bytes.Buffer
	for _, obj := range objs {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, "", err
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return out.Bytes(), ns, nil
}

// LoopbackHost returns the host of server when it is a loopback address (localhost, 127.0.0.0/8,
// ::1): a syncer in a workload execution cluster cannot reach the core there.
func LoopbackHost(server string) (string, bool) {
	u, err := url.Parse(server)
	if err != nil {
		return "", false
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return host, true
	}
	ip := net.ParseIP(host)
	return host, ip != nil && ip.IsLoopback()
}

func meta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}
