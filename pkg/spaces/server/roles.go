package server

import (
	"os"
	"slices"
	"strconv"
	"strings"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// Profile is how a space's kube-apiserver and kube-controller-manager are sized for the
// space's role: most of an idle kube-apiserver's memory is the Go heap that every served
// resource and the OpenAPI documents built from them hold, plus what the garbage collector
// lets pile up between collections.
type Profile struct {
	// Name says which profile this is, for logs and benchmarks.
	Name string
	// APIServerArgs are added to the kube-apiserver's arguments.
	APIServerArgs []string
	// APIServerGOGC and ControllerManagerGOGC are the processes' GOGC (0: Go's default).
	APIServerGOGC, ControllerManagerGOGC int
}

// Profile names.
const (
	// ProfileMinimal serves only what the root, core and inventory spaces hold: namespaces,
	// secrets, service accounts, RBAC, leases, events and custom resources.
	ProfileMinimal = "minimal"
	// ProfileWorkload serves the built-in workload APIs but not those of cluster
	// machinery that no workload object carried to an edge cluster uses.
	ProfileWorkload = "workload"
	// ProfileGeneral serves the whole default Kubernetes API, for spaces of no known role.
	ProfileGeneral = "general"
)

// minimalAPIs are the API groups a minimal space serves. Besides what the KubeStellar
// controllers and kubectl use there (core, RBAC, coordination, apiextensions,
// authentication and authorization reviews), kube-apiserver itself needs apiregistration
// (its aggregator), networking (service IP allocation) and discovery (endpoint slices of
// the kubernetes Service) to start.
var minimalAPIs = []string{
	"api/all=false",
	"api/v1=true",
	"rbac.authorization.k8s.io/v1=true",
	"coordination.k8s.io/v1=true",
	"apiextensions.k8s.io/v1=true",
	"authentication.k8s.io/v1=true",
	"authorization.k8s.io/v1=true",
	"apiregistration.k8s.io/v1=true",
	"networking.k8s.io/v1=true",
	"discovery.k8s.io/v1=true",
}

// workloadOffAPIs are default API groups that a workload management space does not serve:
// they configure a cluster's own machinery (certificates, request priority, device,
// runtime, scheduling and storage classes), which is the edge cluster's business, not a
// workload's. Admission registration stays: the space server's own webhook configuration
// lives there, and webhook configurations are workload objects users downsync.
var workloadOffAPIs = []string{
	"certificates.k8s.io/v1=false",
	"flowcontrol.apiserver.k8s.io/v1=false",
	"resource.k8s.io/v1=false",
	"node.k8s.io/v1=false",
	"scheduling.k8s.io/v1=false",
	"storage.k8s.io/v1=false",
}

// offAdmissionPlugins are default admission plugins a tuned space turns off: no node, kubelet
// or scheduler runs behind a space, so the plugins that default or check what those would
// use only cost memory (their informers) and would rewrite workload objects (default
// storage class, priority, tolerations) before they reach the edge cluster that should
// decide; webhooks and admission policies stored in a space are meant for edge clusters,
// not for the space itself.
var offAdmissionPlugins = []string{
	"TaintNodesByCondition",
	"Priority",
	"DefaultTolerationSeconds",
	"DefaultStorageClass",
	"StorageObjectInUseProtection",
	"PodGroupProtection",
	"PersistentVolumeClaimResize",
	"RuntimeClass",
	"CertificateApproval",
	"CertificateSigning",
	"ClusterTrustBundleAttest",
	"CertificateSubjectRestriction",
	"DefaultIngressClass",
	"PodTopologyLabels",
	"PodGroupWorkloadExists",
	"NodeDeclaredFeatureValidator",
	"PodResizeValidator",
	"MutatingAdmissionPolicy",
	"MutatingAdmissionWebhook",
	"ValidatingAdmissionPolicy",
	"ValidatingAdmissionWebhook",
}

// workloadOffAdmissionPlugins are the plugins a workload management space turns off: those
// of offAdmissionPlugins but ValidatingAdmissionWebhook, which calls the space server's
// check of StatusCollectors.
func workloadOffAdmissionPlugins() []string {
	return slices.DeleteFunc(slices.Clone(offAdmissionPlugins), func(p string) bool { return p == "ValidatingAdmissionWebhook" })
}

// ProfileFor returns the profile of the space at path whose Space has the given role
// label value ("" for none).
func ProfileFor(path, role string) Profile {
	switch {
	case path == spaces.RootPath, role == spacev1alpha1.RoleCore, role == spacev1alpha1.RoleInventory:
		return Profile{
			Name: ProfileMinimal,
			APIServerArgs: []string{
				"--runtime-config=" + strings.Join(minimalAPIs, ","),
				"--disable-admission-plugins=" + strings.Join(offAdmissionPlugins, ","),
			},
			// The heap of an idle minimal space is mostly long-lived (API installers and
			// OpenAPI documents), so frequent collections cost little CPU.
			APIServerGOGC:         25,
			ControllerManagerGOGC: 25,
		}
	case role == spacev1alpha1.RoleWorkload:
		return Profile{
			Name: ProfileWorkload,
			APIServerArgs: []string{
				"--runtime-config=" + strings.Join(workloadOffAPIs, ","),
				"--disable-admission-plugins=" + strings.Join(workloadOffAdmissionPlugins(), ","),
			},
			APIServerGOGC:         40,
			ControllerManagerGOGC: 25,
		}
	default:
		return Profile{Name: ProfileGeneral, APIServerGOGC: 50, ControllerManagerGOGC: 25}
	}
}

// childEnv is the environment of a space's child process: the server's own, with GOGC set
// to gogc unless the server's environment sets it (an operator's choice wins).
func childEnv(gogc int) []string {
	env := os.Environ()
	if _, set := os.LookupEnv("GOGC"); set || gogc == 0 {
		return env
	}
	return append(env, "GOGC="+strconv.Itoa(gogc))
}
