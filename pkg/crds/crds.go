// Package crds loads KubeStellar's CustomResourceDefinitions and installs them into a space,
// waiting until the API server serves them.
package crds

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/deploy"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
)

// FieldManager is the server-side apply field manager used for CRDs.
const FieldManager = "kubestellar"

// Load returns the CRDs of the given API groups (all of them when none are given), sorted by
// name.
func Load(groups ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(deploy.CRDs, "crds/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("listing embedded CRDs: %w", err)
	}
	sort.Strings(names)
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, name := range names {
		data, err := deploy.CRDs.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading embedded CRD %s: %w", name, err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("decoding embedded CRD %s: %w", path.Base(name), err)
		}
		if len(groups) == 0 || slices.Contains(groups, crd.Spec.Group) {
			out = append(out, crd)
		}
	}
	return out, nil
}

// Edge returns the CRDs of the edge API (edge.kubestellar.io).
func Edge() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return Load(edgev2alpha1.GroupName)
}

// Space returns the CRDs of the space API (space.kubestellar.io).
func Space() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return Load(spacev1alpha1.GroupName)
}

// Install creates or updates the CRDs (server-side apply) and waits until every one is
// Established and listed by discovery, or until timeout.
func Install(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition, timeout time.Duration) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating API extensions client: %w", err)
	}
	crdClient := client.ApiextensionsV1().CustomResourceDefinitions()
	for _, crd := range crds {
		crd = crd.DeepCopy()
		crd.TypeMeta = metav1.TypeMeta{APIVersion: apiextensionsv1.SchemeGroupVersion.String(), Kind: "CustomResourceDefinition"}
		data, err := yaml.Marshal(crd)
		if err != nil {
			return fmt.Errorf("encoding CRD %s: %w", crd.Name, err)
		}
		force := true
		if _, err := crdClient.Patch(ctx, crd.Name, types.ApplyYAMLPatchType, data,
			metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
			return fmt.Errorf("applying CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range crds {
		var lastErr error
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			got, err := crdClient.Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				// Keep waiting through transient errors; the last one is reported on timeout.
				lastErr = err
				return false, nil
			}
			return established(got), nil
		})
		if err != nil {
			if lastErr != nil {
				err = fmt.Errorf("%w (last error: %w)", err, lastErr)
			}
			return fmt.Errorf("waiting for CRD %s to be established: %w", crd.Name, err)
		}
	}
	// Established is not yet served: discovery lags behind it, and a client that looks the
	// kind up in that moment is told it does not exist.
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			gv := crd.Spec.Group + "/" + v.Name
			var lastErr error
			err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
				list, err := client.Discovery().ServerResourcesForGroupVersion(gv)
				if err != nil {
					lastErr = err
					return false, nil
				}
				return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == crd.Spec.Names.Plural }), nil
			})
			if err != nil {
				if lastErr != nil {
					err = fmt.Errorf("%w (last error: %w)", err, lastErr)
				}
				return fmt.Errorf("waiting for %s in %s to be served: %w", crd.Spec.Names.Plural, gv, err)
			}
		}
	}
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}
