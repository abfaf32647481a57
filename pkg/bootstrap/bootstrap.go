// Package bootstrap makes a space server ready for KubeStellar: the core space with the
// KubeStellar API, and the inventory and workload management spaces asked for.
package bootstrap

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// Options say what to make.
type Options struct {
	// ESPWPath is the core space.
	ESPWPath string
	// IMWs and WMWs are the inventory and workload management spaces to ensure.
	IMWs, WMWs []string
	// Timeout bounds each wait.
	Timeout time.Duration
	// Progress receives a line per step.
	Progress spaces.Progress
}

// WaitForServer waits until the space server answers with its Space API.
func WaitForServer(ctx context.Context, c *spaces.Client, timeout time.Duration, progress spaces.Progress) error {
	start, last := time.Now(), time.Now()
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		if _, lastErr = c.List(ctx); lastErr == nil {
			return true, nil
		}
		if progress != nil && time.Since(last) >= 10*time.Second {
			last = time.Now()
			progress("Waiting for the space server at %s (%s so far): %v", c.Base.Host, time.Since(start).Round(time.Second), lastErr)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the space server at %s did not answer within %s: %w", c.Base.Host, timeout, lastErr)
	}
	return nil
}

// EnsureWithAPI ensures the space at path, Ready, with the KubeStellar API installed; a new
// space gets the given role (a spacev1alpha1.Role* value).
func EnsureWithAPI(ctx context.Context, c *spaces.Client, path, role string, timeout time.Duration, progress spaces.Progress) (bool, error) {
	created, err := c.EnsureWithRole(ctx, path, role, timeout, progress)
	if err != nil {
		return false, err
	}
	list, err := crds.Edge()
	if err != nil {
		return created, err
	}
	if err := crds.Install(ctx, c.Config(path), list, timeout); err != nil {
		return created, fmt.Errorf("installing the KubeStellar API into %s: %w", path, err)
	}
	return created, nil
}

// Init ensures the core space and the IMWs and WMWs, each with the KubeStellar API.
func Init(ctx context.Context, c *spaces.Client, o Options) error {
	say := o.Progress
	if say == nil {
		say = func(string, ...any) {}
	}
	if err := WaitForServer(ctx, c, o.Timeout, say); err != nil {
		return err
	}
	for _, group := range []struct {
		what  string
		role  string
		paths []string
	}{
		{"core space", spacev1alpha1.RoleCore, []string{o.ESPWPath}},
		{"inventory management space", spacev1alpha1.RoleInventory, o.IMWs},
		{"workload management space", spacev1alpha1.RoleWorkload, o.WMWs},
	} {
		for _, path := range group.paths {
			if err := spaces.ValidatePath(path); err != nil {
				return err
			}
			created, err := EnsureWithAPI(ctx, c, path, group.role, o.Timeout, say)
			if err != nil {
				return err
			}
			verb := "Ready"
			if created {
				verb = "created"
			}
			say("The %s %s is %s", group.what, path, verb)
		}
	}
	return nil
}
